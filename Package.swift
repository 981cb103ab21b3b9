// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "speakerbridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "speakerbridge", targets: ["speakerbridge"]),
        .library(name: "SpeakerbridgeHost", targets: ["SpeakerbridgeHost"]),
        // The example Swift plugin, a shared object the daemon loads like any other.
        .library(name: "SwiftEchoSpeaker", type: .dynamic, targets: ["SwiftEchoSpeaker"]),
    ],
    dependencies: [
        // The plugin SDK (the C header and PluginKit), a package of its own so third-party Swift
        // drivers depend on it without pulling in the host's dependencies.
        .package(path: "PluginSDK"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
        // TLS for plugins' WebSockets (already in the graph through AsyncHTTPClient).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // /metrics: the daemon records through swift-metrics types made by a Prometheus factory that
        // is passed in (no global bootstrap); the admin listener renders the registry.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
    ],
    targets: [
        // libmosquitto (Debian: libmosquitto-dev), the MQTT client library the session is built on.
        .systemLibrary(
            name: "CMosquitto",
            path: "Sources/CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // libffi (Debian: libffi-dev): calls plugins' typed commands with checked arguments.
        .systemLibrary(
            name: "CFFI",
            path: "Sources/CFFI",
            pkgConfig: "libffi",
            providers: [.apt(["libffi-dev"])]
        ),
        .target(
            name: "SwiftEchoSpeaker",
            dependencies: [.product(name: "PluginKit", package: "PluginSDK")],
            path: "Examples/SwiftEchoSpeaker",
            exclude: ["README.md"]
        ),
        .target(
            name: "SpeakerbridgeHost",
            dependencies: [
                "CMosquitto",
                "CFFI",
                .product(name: "PluginAPI", package: "PluginSDK"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Host",
            // The status page (plain HTML, CSS and ES modules), compiled into the binary: nothing to
            // install beside it, and the page always matches the daemon that serves it.
            resources: [.embedInCode("Admin/Page")]
        ),
        .executableTarget(
            name: "speakerbridge",
            dependencies: [
                "SpeakerbridgeHost",
                "CMosquitto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/CLI"
        ),
        // Test support shared by the test suite and the benchmarks: real brokers, the daemon as a
        // process, a plain MQTT client and network-namespace labs.
        .target(
            name: "LabKit",
            dependencies: ["CMosquitto"],
            path: "Tests/LabKit"
        ),
        // Test-only C functions with the typed-command calling convention.
        .target(
            name: "CommandFixtures",
            dependencies: [.product(name: "PluginAPI", package: "PluginSDK")],
            path: "Tests/CommandFixtures"
        ),
        .testTarget(
            name: "HostTests",
            dependencies: ["SpeakerbridgeHost", "LabKit", "CommandFixtures"],
            path: "Tests/HostTests"
        ),
        // A faithful fake Sonos household (UPnP/SOAP/GENA on loopback) for what real renderers can't do.
        .target(
            name: "FakeSonos",
            dependencies: [
                // LabKit's test PKI for the audioClip API's TLS certificate.
                "LabKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/FakeSonos"
        ),
        // `swift run fake-sonos --players N`: the fake household as a program (demo, benchmarks, labs).
        .executableTarget(
            name: "fake-sonos",
            dependencies: ["FakeSonos", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tests/FakeSonosTool"
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SpeakerbridgeHost", "LabKit", "FakeSonos",
                // An in-test WebSocket/HTTPS server on loopback (PluginWebSocketTests).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/IntegrationTests"
        ),
        .executableTarget(
            name: "speakerbridge-bench",
            // FakeSonos: the Sonos driver's restore benchmark runs against the fake household.
            dependencies: ["LabKit", "SpeakerbridgeHost", "CommandFixtures", "FakeSonos"],
            path: "Benchmarks/SessionBench"
        ),
    ]
)
