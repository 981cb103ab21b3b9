// swift-tools-version:6.0
// The plugin SDK: what a speakerbridge driver builds against, and nothing of the host. A Swift
// plugin depends on this package alone, so resolving it fetches no host dependency (NIO, Hummingbird,
// …); C plugins use the header under Sources/PluginAPI/include directly.
import PackageDescription

let package = Package(
    name: "PluginSDK",
    products: [
        // The C ABI: the public header third-party drivers build against.
        .library(name: "PluginAPI", targets: ["PluginAPI"]),
        // For Swift drivers: the C ABI as Swift protocols.
        .library(name: "PluginKit", targets: ["PluginKit"]),
    ],
    targets: [
        .target(
            name: "PluginAPI",
            path: "Sources/PluginAPI",
            exclude: ["speakerbridge-plugin.pc.in"]
        ),
        // Swift plugins link this (and the shared Foundation), never a copy of the host.
        .target(
            name: "PluginKit",
            dependencies: ["PluginAPI"],
            path: "Sources/PluginKit"
        ),
    ]
)
