import CronKit
import Foundation

extension Job {
    /// The process request for one attempt of this job.
    ///
    /// The environment is the daemon's (or, with `inherit_env = false`, cron's minimal one: `HOME`, `LOGNAME`,
    /// `USER`, `SHELL`, `PATH=/usr/bin:/bin`), then the job's `env`, then `TOCK_JOB_ID`, `TOCK_EXECUTION_ID` and
    /// `TOCK_SCHEDULED_TIME` (ISO 8601, UTC).
    public func attemptRequest(
        executionID: String, scheduledTime: Date,
        daemonEnvironment: [String: String] = ProcessInfo.processInfo.environment
    ) -> AttemptRequest {
        var environment: [String: String]
        if inheritEnvironment {
            environment = daemonEnvironment
        } else {
            let account = user.flatMap(UserAccount.lookup) ?? UserAccount.lookup(uid: geteuid())
            let name = account?.name ?? user ?? daemonEnvironment["USER"] ?? "root"
            environment = [
                "HOME": account?.home ?? daemonEnvironment["HOME"] ?? "/", "LOGNAME": name, "USER": name,
                "SHELL": shellPath, "PATH": "/usr/bin:/bin",
            ]
        }
        environment.merge(self.environment) { _, job in job }
        environment["TOCK_JOB_ID"] = id
        environment["TOCK_EXECUTION_ID"] = executionID
        environment["TOCK_SCHEDULED_TIME"] = Timestamp.string(for: scheduledTime, in: .utc)
        let program: AttemptRequest.Program
        switch action {
        case .command(let command, let shell): program = .shell(command: command, shell: shell)
        case .exec(let argv): program = .exec(argv)
        case .custom(let kind, let arguments): program = .custom(kind: kind, arguments: arguments)
        }
        var request = AttemptRequest(
            program: program, environment: environment, workingDirectory: workingDirectory, stdin: stdin, user: user,
            timeout: timeout, killGrace: killGrace, maxOutput: maxOutput)
        request.jobID = id
        request.executionID = executionID
        request.scheduledTime = scheduledTime
        return request
    }

    var shellPath: String {
        if case .command(_, let shell) = action { return shell }
        return "/bin/sh"
    }
}
