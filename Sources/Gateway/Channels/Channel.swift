import GatewayProtocol
import JSONCore

/// A messaging connection the gateway owns on behalf of its clients (G2: no
/// client ever talks to a channel directly). Implementations run on the loop
/// thread and report through the callbacks the registry installs.
protocol MessageChannel: AnyObject {
    /// Config key, e.g. "irc".
    var id: String { get }
    var label: String { get }
    var state: ChannelState { get }
    /// Called whenever `state.linked`/`state.connected` change.
    var onStateChange: (() -> Void)? { get set }
    var onInbound: ((InboundMessage) -> Void)? { get set }

    /// Starts connecting (and keeps reconnecting with backoff until `unlink`).
    func link()
    /// Disconnects for good; pending sends fail. `whenGone` runs once the
    /// connection is closed (a goodbye may still be flushing when this returns),
    /// within a bounded time; the channel must be kept alive until then.
    func unlink(whenGone: @escaping () -> Void)
    /// Why `to` cannot be sent to on this channel, or nil when it can. Asked before
    /// anything is recorded, so a hostile target never reaches the ledger.
    func targetProblem(_ to: String) -> String?
    /// Takes the admission part (`allowFrom`) of a reloaded spec whose link settings are unchanged.
    func admit(_ spec: ChannelSpec)
    /// Delivers `message`. `willWrite` runs once, synchronously, right before the
    /// first byte of it can leave the process (the ledger records the hand-off
    /// there); when it returns false nothing is sent and the send fails as
    /// unavailable. `completion` runs once with the delivery or the reason it failed.
    func send(_ message: OutboundMessage, willWrite: @escaping () -> Bool,
              completion: @escaping (Result<Delivery, ChannelSendError>) -> Void)
}

struct ChannelState: Equatable {
    var configured = true
    /// Authenticated/registered with the remote end: messages can be sent now.
    var linked = false
    /// The transport (TCP) is up, whether or not registration finished.
    var connected = false
    var lastError: String?
    /// Wall-clock ms of the current registration (for `authAgeMs`).
    var linkedAtMs: Int64?
    /// Wall-clock ms of the last change of `linked`/`connected`.
    var sinceMs: Int64?
    /// Set when the remote refused us in a way reconnecting will not fix.
    var refused = false
    /// Wall-clock ms of the next reconnect attempt while down.
    var nextAttemptMs: Int64?

    func json(nowMs: Int64) -> JSONValue {
        var o = JSONObject()
        o["configured"] = .bool(configured)
        o["linked"] = .bool(linked)
        o["connected"] = .bool(connected)
        if let lastError { o["lastError"] = .string(lastError) }
        if linked, let at = linkedAtMs { o["authAgeMs"] = .int(max(0, nowMs - at)) }
        if let sinceMs { o["since"] = .int(sinceMs) }
        return .object(o)
    }
}

struct OutboundMessage {
    var to: String
    var text: String
    /// Who asked (a client's connection id, or the agent): queues are bounded per sender.
    var sender: String = ""
}

struct Delivery {
    var deliveredAtMs: Int64
}

enum ChannelSendError: Error, Equatable {
    /// Nothing was written: safe to try again later.
    case unavailable(String, retryAfterMs: Int64?)
    /// The remote refused us for good (credentials, ban).
    case notLinked(String)
    /// The target is not valid for this channel.
    case invalidTarget(String)
    /// The message has nothing this channel can send (e.g. only line breaks).
    case invalidMessage(String)
    /// Bytes may have left before the failure: delivery is unknown.
    case inDoubt(String)

    var rpcError: RPCError {
        switch self {
        case .unavailable(let m, let after):
            RPCError(.unavailable, m, retryable: true, retryAfterMs: after)
        case .notLinked(let m):
            RPCError(.notLinked, m, retryable: false)
        case .invalidTarget(let m):
            RPCError(.invalidRequest, m, details: ["field": "to"])
        case .invalidMessage(let m):
            RPCError(.invalidRequest, m, details: ["field": "message"])
        case .inDoubt(let m):
            RPCError(.unavailable, m, details: ["inDoubt": true], retryable: false)
        }
    }
}

/// An inbound chat message, broadcast to clients as the `chat.inbound` event;
/// one addressed to the gateway by an admitted sender starts an agent turn.
struct InboundMessage {
    var channel: String
    var from: String
    var to: String
    var isGroup: Bool
    var text: String
    var isAction: Bool
    var tsMs: Int64
    /// The text meant for the agent: a direct message whole, a channel message
    /// after `nick: `/`nick, `; nil when the message is not addressed to the gateway.
    var addressedText: String?
    /// Why the sender may not start agent turns (`allowFrom`), or nil when they may.
    var refusal: String?

    /// `chat` event payload: `{channel, chatType:"group"|"direct", from, to, text, action?, ts}`.
    var json: JSONValue {
        var o = JSONObject()
        o["channel"] = .string(channel)
        o["chatType"] = .string(isGroup ? "group" : "direct")
        o["from"] = .string(from)
        o["to"] = .string(to)
        o["text"] = .string(text)
        if isAction { o["action"] = true }
        o["ts"] = .int(tsMs)
        return .object(o)
    }
}
