import Foundation
import PackagePlugin

/// Embeds the files of `web/` in the target (TockHTTP) at build time, so `tock serve` serves its UI from any
/// working directory with nothing installed beside the binary.
///
/// A prebuild command, not a build command: it runs on every build, so a file added to `web/` is picked up (a
/// build command's inputs are fixed when the plugin is invoked, and SwiftPM caches that invocation). The script
/// rewrites its output only when a file changed, so an unchanged `web/` recompiles nothing. SwiftPM's
/// `.embedInCode` resources cannot do this: they must sit inside the target's directory and are flattened to
/// their file names (`js/app.js` and `js/pages/app.js` would collide).
@main
struct EmbedWebUI: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let root = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        return [
            .prebuildCommand(
                displayName: "Embedding web/ in \(target.name)", executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [root.appending(path: "scripts/embed").path, "web", root.path, output.path],
                outputFilesDirectory: output)
        ]
    }
}
