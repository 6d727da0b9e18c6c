import Foundation

/// A local user account, for running a job as `user` (uid, gid, supplementary groups, home).
struct UserAccount: Sendable, Hashable {
    let name: String
    let uid: uid_t
    let gid: gid_t
    let groups: [gid_t]
    let home: String
    let shell: String

    /// Looks the user up in the system's user database; `nil` when there is no such user.
    static func lookup(_ name: String) -> UserAccount? {
        var record = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwnam_r(name, &record, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return account(record)
    }

    /// Looks up the account of a uid.
    static func lookup(uid: uid_t) -> UserAccount? {
        var record = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &record, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return account(record)
    }

    private static func account(_ record: passwd) -> UserAccount {
        let name = String(cString: record.pw_name)
        let gid = record.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid, &groups, &count)
        }
        return UserAccount(
            name: name, uid: record.pw_uid, gid: gid, groups: Array(groups.prefix(Int(max(0, count)))),
            home: String(cString: record.pw_dir), shell: String(cString: record.pw_shell))
    }
}
