import GatewayProtocol
import Gateway
import JSONCore

/// Human text for `openclaw sessions list|history`. A transcript holds what people on the
/// channels wrote and what the agent answered, and session keys carry their nicks and channel
/// names: all of it is shown with control characters escaped (`ControlCharacters`; a reply's
/// newlines and tabs kept), so a message cannot clear, retitle or rewrite the reader's terminal.
enum SessionText {
    static func list(_ list: JSONValue) -> [String] {
        let sessions = list["sessions"]?.arrayValue ?? []
        if sessions.isEmpty {
            return ["No sessions yet (in \(shown(list["path"]?.stringValue ?? "the state directory")))."]
        }
        return sessions.map { s in
            let updated = s["updatedAt"]?.intValue.map { Timestamp.iso8601(ms: $0) } ?? "?"
            return "\(shown(s["key"]?.stringValue ?? "?"))  \(shown(s["kind"]?.stringValue ?? ""))  updated \(updated)"
        }
    }

    static func history(_ history: JSONValue, key: String, paint: (String, Terminal.Color) -> String) -> [String] {
        let messages = history["messages"]?.arrayValue ?? []
        if messages.isEmpty {
            return ["Session \(shown(key)) has no turns yet (`openclaw sessions list` shows the sessions there are)."]
        }
        return messages.map { m in
            let role = m["role"]?.stringValue ?? "?"
            let who = shown(m["from"]?.stringValue.map { "\(role) \($0)" } ?? role)
            let ts = m["ts"]?.intValue.map { Timestamp.iso8601(ms: $0) } ?? "?"
            let text = ControlCharacters.escaped(m["text"]?.stringValue ?? "", keeping: ["\n", "\t"])
            return "[\(ts)] \(paint(who, role == "user" ? .bold : .green)): \(text)"
        }
    }

    private static func shown(_ text: String) -> String { ControlCharacters.escaped(text) }
}
