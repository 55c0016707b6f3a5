import GatewayProtocol
import JSONCore

/// Who is admitted at `connect`, with which protocol, and what each request needs.
///
/// - Operators (`role: "operator"`, the default) speak protocol 4.
/// - Protocol 3 is still admitted, as upstream does, for `client.mode: "probe"` (status
///   probes of older CLIs and apps) and for the `node` role: the frames and the methods
///   they use are the same in both versions. hello-ok then says `protocol: 3`.
/// - A `node` never holds operator scopes, whatever it asks for: it may stay connected and
///   receives the broadcast events, and every method answers it `FORBIDDEN` / `MISSING_SCOPE`
///   (this gateway serves none of upstream's node methods).
enum Admission {
    static let roles = ["operator", "node"]
    static let defaultOperatorScopes = ["operator.read", "operator.write"]
    /// Methods with side effects; the others need `operator.read`. `operator.admin` covers both.
    static let writeMethods: Set<String> = ["send", "agent", "chat.send"]

    /// The protocol this client is served with, or nil when none of its range is admitted.
    static func protocolVersion(_ params: JSONValue, role: String) -> Int64? {
        let minP = params["minProtocol"]?.intValue ?? -1
        let maxP = params["maxProtocol"]?.intValue ?? -1
        if minP <= WireProtocol.version && maxP >= WireProtocol.version { return WireProtocol.version }
        let legacy = WireProtocol.legacyVersion
        let mayUseLegacy = role == "node" || params["client"]?["mode"]?.stringValue == "probe"
        if mayUseLegacy && minP <= legacy && maxP >= legacy { return legacy }
        return nil
    }

    /// What a shared secret grants: operators get what they ask for (read + write when they
    /// ask for nothing); nodes get no operator scope at all.
    static func scopes(requested: [String], role: String) -> [String] {
        if role == "node" { return requested.filter { !$0.hasPrefix("operator.") } }
        return requested.isEmpty ? defaultOperatorScopes : requested
    }

    /// The scope `method` needs (looked up once, when the method is registered).
    static func neededScope(method: String) -> String {
        writeMethods.contains(method) ? "operator.write" : "operator.read"
    }

    /// Whether `scopes` admit methods that need `scope` (`operator.admin` admits all).
    static func admits(_ scopes: [String], _ scope: String) -> Bool {
        scopes.contains(scope) || scopes.contains("operator.admin")
    }
}
