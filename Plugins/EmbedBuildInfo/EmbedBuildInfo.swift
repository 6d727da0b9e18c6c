import Foundation
import PackagePlugin

/// Writes `BuildInfo.commit` (the git commit of the checkout, or `$TOCK_COMMIT`) for `tock --version`.
///
/// A prebuild command so that it runs on every build: a new commit changes the version without a clean build.
@main
struct EmbedBuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let root = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        return [
            .prebuildCommand(
                displayName: "Writing the build's commit for \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [root.appending(path: "scripts/embed").path, "build-info", root.path, output.path],
                outputFilesDirectory: output)
        ]
    }
}
