/// Client-supplied text (a `system-event`, an IRC target, an agent's output)
/// reaches log lines and terminals. Raw control characters there forge log
/// lines (CR, LF), retitle or clear a terminal (ESC, OSC, C1 CSI) or hide text
/// (BS, DEL). They are shown as visible escapes instead: `\x1b`, `\r`, `\u009b`.
public enum ControlCharacters {
    /// `text` with every C0 control, DEL and C1 control escaped; `keeping` names
    /// the ones that stay (a newline in streamed agent output).
    public static func escaped(_ text: String, keeping: Set<Unicode.Scalar> = []) -> String {
        guard mayContainControls(text) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isControl(scalar), !keeping.contains(scalar) else {
                out.append(scalar)
                continue
            }
            let escape: String
            switch scalar {
            case "\n": escape = "\\n"
            case "\r": escape = "\\r"
            case "\t": escape = "\\t"
            default:
                let hex = String(scalar.value, radix: 16)
                escape = scalar.value < 0x80 ? "\\x" + (hex.count == 1 ? "0" : "") + hex : "\\u00" + hex
            }
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }

    /// A cheap byte scan (C1 controls start with 0xC2 in UTF-8), so text without
    /// any control character costs no copy.
    public static func mayContainControls(_ text: String) -> Bool {
        text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 })
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x20 || (0x7F...0x9F).contains(c.value)
    }
}
