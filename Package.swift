// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Tock",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tock", targets: ["TockCLI"]),
        .library(name: "CronKit", targets: ["CronKit"]),
        .library(name: "TockCore", targets: ["TockCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // Pure schedule math: parse cron, compute fire times, describe. Foundation only, never reads the clock.
        .target(name: "CronKit"),
        // The process spawner: vfork + exec into a new session with a clean signal mask (see ProcessJobRunner).
        .target(name: "CTockSpawn"),
        .target(name: "TockCore", dependencies: ["CronKit", "CTockSpawn", "TOMLKit"]),
        .executableTarget(
            name: "TockCLI",
            dependencies: [
                "CronKit",
                "TockCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "CronBenchmark", dependencies: ["CronKit"], path: "Benchmarks/CronBenchmark"),
        .executableTarget(name: "RunnerBenchmark", dependencies: ["TockCore"], path: "Benchmarks/RunnerBenchmark"),
        .testTarget(name: "CronKitTests", dependencies: ["CronKit"]),
        .testTarget(name: "TockCoreTests", dependencies: ["TockCore"]),
        .testTarget(name: "TockCLITests", dependencies: ["CronKit"]),
    ],
    swiftLanguageModes: [.v6]
)
