import GatewayProtocol
import JSONCore

/// Human text for the `health` result. Kept a pure function of the payload so
/// tests (and the system tests that read it) see exactly what users see.
///
/// Every string in it comes from the gateway, and some from further away (an IRC
/// server's error text, a channel's label): they are shown with their control
/// characters escaped (`ControlCharacters`), so they cannot drive the terminal.
enum HealthText {
    static func render(_ health: JSONValue, paint: (String, Terminal.Color) -> String) -> String {
        let ok = health["ok"]?.boolValue ?? false
        var facts: [String] = []
        if let uptime = health["uptimeMs"]?.intValue { facts.append("uptime \(duration(ms: uptime))") }
        if let took = health["durationMs"]?.doubleValue {
            facts.append(took < 1 ? "checked in under 1 ms" : "checked in \(Int(took)) ms")
        }
        var lines = ["Gateway: " + (ok ? paint("healthy", .green) : paint("unhealthy", .red))
            + (facts.isEmpty ? "" : " (" + facts.joined(separator: ", ") + ")")]

        if let link = health["linkChannel"], let id = link["id"]?.stringValue.map(shown) {
            let label = link["label"]?.stringValue.map { " (\(shown($0)))" } ?? ""
            let linked = link["linked"]?.boolValue ?? false
            lines.append("Link channel: \(id)\(label), " + (linked ? "linked" : paint("not linked", .red)))
        }
        let channels = health["channels"]?.objectValue ?? JSONObject()
        if channels.isEmpty {
            lines.append("Channels: none configured")
        } else {
            lines.append("Channels:")
            for (id, channel) in channels.entries {
                lines.append("  \(shown(id)): " + channelState(channel, paint: paint))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func channelState(_ channel: JSONValue, paint: (String, Terminal.Color) -> String) -> String {
        let linked = channel["linked"]?.boolValue ?? false
        let connected = channel["connected"]?.boolValue ?? false
        var text = linked ? "linked" : paint("not linked", .red)
        text += connected ? ", connected" : ", " + paint("disconnected", .yellow)
        if let age = channel["authAgeMs"]?.intValue { text += ", auth age \(duration(ms: age))" }
        if let error = channel["lastError"]?.stringValue, !error.isEmpty { text += "; last error: \(shown(error))" }
        return text
    }

    /// A string from the gateway, as it may be printed: control characters as visible escapes.
    static func shown(_ text: String) -> String { ControlCharacters.escaped(text) }

    /// "850 ms", "42s", "3m 12s", "5h 2m", "2d 4h": two units at most, enough to read at a glance.
    static func duration(ms: Int64) -> String {
        if ms < 1000 { return "\(max(ms, 0)) ms" }
        let s = ms / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86_400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86_400)d \(s % 86_400 / 3600)h"
    }
}
