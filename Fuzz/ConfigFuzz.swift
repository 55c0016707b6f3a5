// libFuzzer target for the config loader: `openclaw.json` bytes through
// ConfigLoader.parseConfig and .apply (OpenClawConfig) and the IRC channel's
// IRCConfig.parse (Sources/Gateway/Channels), compiled with them by
// scripts/fuzz.sh.
//
// Invariants: no crash; a refusal names the file; accepted settings are within
// the ranges the loader documents, so the daemon never starts on a value it
// would reject.

import JSONCore
import OpenClawConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func configFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let source = "/fuzz/openclaw.json"
    var settings = GatewaySettings(paths: OpenClawPaths(profile: nil, stateDir: "/fuzz/state", configPath: source))
    do {
        let file = try ConfigLoader.parseConfig(bytes, source: source)
        try ConfigLoader.apply(file, source: source, to: &settings)
    } catch {
        precondition(error.message.hasPrefix(source), "a refusal that does not name the file: \(error)")
        return 0
    }
    precondition((1...65535).contains(settings.port))
    precondition((50...3_600_000).contains(settings.tickIntervalMs))
    precondition((100...600_000).contains(settings.handshakeTimeoutMs))
    precondition((1024...(64 << 20)).contains(settings.maxPayload))
    precondition((4096...(1 << 30)).contains(settings.maxBufferedBytes))
    precondition((0...60_000).contains(settings.shutdownDrainMs))
    precondition((1...10_000).contains(settings.authFailuresPerMinute))
    precondition(!settings.bind.isEmpty)

    if let irc = settings.channels["irc"], let config = try? IRCConfig.parse(irc) {
        precondition(!config.server.isEmpty && (1...65535).contains(config.port))
        precondition(config.floodBurst >= 1 && config.floodIntervalMs >= 0)
        precondition(config.reconnectMinMs <= config.reconnectMaxMs && config.pingIntervalMs > 0)
    }
    return 0
}
