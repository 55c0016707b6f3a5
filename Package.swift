// swift-tools-version:6.0
import PackageDescription

// No package dependencies by design: Foundation(Essentials), Dispatch, Glibc
// and libsystemd keep the daemon easy to package for distributions.
let package = Package(
    name: "openclaw-gateway",
    products: [
        .executable(name: "openclaw", targets: ["openclaw"]),
    ],
    targets: [
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // Thin typed Swift layer over libsystemd (sd-daemon, sd-journal, sd-bus, sd-login).
        .target(name: "SystemdKit", dependencies: ["CSystemd"]),
        // RFC 3629's well-formed UTF-8 table, shared by the codec and the JSON parser.
        .target(name: "UTF8Rules"),
        // RFC 6455 codec: bytes in, events and bytes out. No I/O.
        .target(name: "WebSocketCodec", dependencies: ["UTF8Rules"]),
        // Validating JSON reader/writer built for the frame hot path.
        .target(name: "JSONCore", dependencies: ["UTF8Rules"]),
        // Paths, profiles, openclaw.json and token sources, shared by daemon and CLI.
        .target(name: "OpenClawConfig", dependencies: ["JSONCore"]),
        // Wire protocol types shared by the daemon and the CLI.
        .target(name: "GatewayProtocol", dependencies: ["JSONCore", "CLinux"]),
        // Linux headers Glibc does not export (epoll, signalfd).
        .target(name: "CLinux"),
        // Single-threaded epoll reactor: sockets, timers, signals, child pipes.
        .target(name: "NetIO", dependencies: ["CLinux"]),
        // The daemon.
        .target(name: "Gateway", dependencies: [
            "SystemdKit", "WebSocketCodec", "JSONCore", "GatewayProtocol", "NetIO", "OpenClawConfig", "CLinux",
        ]),
        // Blocking WebSocket RPC client with bounded timeouts (used by the CLI).
        .target(name: "GatewayClient", dependencies: ["WebSocketCodec", "JSONCore", "GatewayProtocol", "OpenClawConfig"]),
        // Unit rendering, install/uninstall, status and doctor over sd-bus.
        .target(name: "ServiceManager", dependencies: ["SystemdKit", "GatewayClient", "GatewayProtocol", "JSONCore", "OpenClawConfig", "CLinux"]),
        // Command-line parsing and commands.
        .target(name: "OpenClawCLI", dependencies: [
            "Gateway", "GatewayClient", "ServiceManager", "GatewayProtocol", "JSONCore", "SystemdKit", "OpenClawConfig",
        ]),
        .executableTarget(name: "openclaw", dependencies: ["OpenClawCLI"]),
        // Test-only echo server on the codec and reactor, driven by the Autobahn TestSuite
        // (Tests/autobahn); no product names it, so the package and the .deb never ship it.
        .executableTarget(name: "AutobahnEcho", dependencies: ["WebSocketCodec", "NetIO"], path: "Tests/AutobahnEcho"),

        .testTarget(name: "WebSocketCodecTests", dependencies: ["WebSocketCodec"]),
        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"]),
        .testTarget(name: "SystemdKitTests", dependencies: ["SystemdKit"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "GatewayProtocol", "JSONCore", "OpenClawConfig", "NetIO"]),
        .testTarget(name: "GatewayClientTests", dependencies: ["GatewayClient", "WebSocketCodec", "JSONCore", "GatewayProtocol"]),
        .testTarget(name: "ServiceManagerTests", dependencies: ["ServiceManager", "SystemdKit", "OpenClawConfig"]),
        .testTarget(name: "OpenClawCLITests", dependencies: ["OpenClawCLI", "OpenClawConfig", "JSONCore"]),
    ],
    swiftLanguageModes: [.v6]
)
