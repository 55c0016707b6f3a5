import JSONCore
import OpenClawConfig

/// The RPC section of `status`: what one connect + `status` call found.
public struct ProbeResult: Sendable, Equatable {
    public var url: String
    /// hello-ok received (and `status` answered, when it could be called).
    public var ok: Bool
    public var error: String?
    public var roundTripMs: Double?
    public var version: String?
    public var pid: Int64?
    public var uptimeMs: Int64?
    public var clients: Int64?
    /// "socket" (activated by systemd) or "self" (bound the port itself).
    public var activation: String?
    /// The `channels` map of the `status` result (link/auth age per channel).
    public var channels: JSONValue?
    /// The `storage` map of `status`: each durable store (send ledger, transcripts) with
    /// `ok`, and `error`/`since` while it cannot record.
    public var storage: JSONValue?
    /// The `handover` object of `status`: present when this gateway took over the clients of
    /// the instance it replaced (docs/handover.md).
    public var handover: JSONValue?
    /// The `reload` object of `status`: how many reloads the gateway handled and how the last ended.
    public var reload: ReloadOutcome?
    /// Who answered hello-ok (nil from a gateway that does not say).
    public var identity: GatewayIdentity?
    /// The gateway answered but refused our secret: its `details.code` (`AUTH_TOKEN_MISMATCH`, …).
    /// A definite answer: waiting longer will not change it.
    public var authRefusal: String?

    public init(url: String, ok: Bool, error: String? = nil) {
        self.url = url
        self.ok = ok
        self.error = error
    }

    /// One sentence per store that cannot record (cause, since when, what to do), for status and doctor:
    /// everything else can look fine while sends or turns are refused.
    public var storageFaults: [String] {
        (storage?.objectValue?.entries ?? []).compactMap { name, store in
            guard store["ok"]?.boolValue == false else { return nil }
            return "the gateway's \(name) cannot record (\(store["error"]?.stringValue ?? "unknown cause")"
                + (store["since"]?.stringValue.map { ", since \($0)" } ?? "")
                + "): what needs it is refused until it can; free space or fix permissions at "
                + "\(store["path"]?.stringValue ?? "the state dir"), it recovers by itself"
        }
    }
}

/// The gateway's own account of its last configuration reload (`status.reload`).
public struct ReloadOutcome: Sendable, Equatable {
    /// Reloads handled since the gateway started.
    public var count: Int64
    /// The config error (file, line, column), nil when the new configuration applied.
    public var error: String?

    public init(count: Int64, error: String?) {
        self.count = count
        self.error = error
    }
}

/// How ServiceManager reaches a running gateway; the default goes through
/// `GatewayClient`, tests substitute their own.
public protocol GatewayProbing: Sendable {
    func probe(url: String, token: String?, password: String?, timeoutMs: Int) -> ProbeResult
}
