import GatewayProtocol
import OpenClawConfig

/// Which systemd manager runs the gateway.
public enum ServiceKind: String, Sendable, Equatable {
    /// The user's own manager (RUNBOOK U1): `~/.config/systemd/user`, needs linger.
    case user
    /// The system manager (U5): `/etc/systemd/system`, `User=`, no linger.
    case system
}

/// Turns the templates from `units/` (embedded by scripts/gen-unit-templates.sh)
/// into the unit files `install` writes. `doctor` renders the same way and
/// compares, so "what install would write" has one definition.
public enum UnitRenderer {
    public struct UnitFile: Sendable, Equatable {
        /// e.g. "openclaw-gateway-work.service".
        public var fileName: String
        public var contents: String
    }

    public static func render(kind: ServiceKind, paths: OpenClawPaths, port: Int, bind: String, exec: String,
                              user: String?) -> [UnitFile] {
        // The same words as the Debian package's units (packaging/build-deb.sh).
        let description = "OpenClaw Gateway (profile \(paths.profileLabel), v\(BuildInfo.version))"
        var arguments = ["gateway", "--port", String(port), "--bind", bind]
        if let profile = paths.profile { arguments += ["--profile", profile] }
        let values: [(String, String)] = [
            ("@UNIT@", paths.unitName),
            ("@DESCRIPTION@", escapeSpecifiers(description)),
            ("@EXEC@", quoteWord(exec)),
            ("@ARGS@", arguments.map(quoteWord).joined(separator: " ")),
            // ListenStream= needs brackets around an IPv6 address.
            ("@BIND@", bind.contains(":") ? "[\(bind)]" : bind),
            ("@PORT@", String(port)),
            ("@STATE_DIR@", escapeSpecifiers(paths.stateDir)),
            ("@TOKEN_FILE@", escapeSpecifiers(ServiceTarget.tokenFile(kind: kind, paths: paths))),
            ("@WANTED_BY@", kind == .user ? "default.target" : "multi-user.target"),
            ("@USER@", escapeSpecifiers(user ?? "")),
        ]
        let prefix = kind.rawValue + "/"
        return UnitTemplates.all.filter { $0.path.hasPrefix(prefix) }.map { template in
            var text = template.text
            for (placeholder, value) in values { text = text.replacing(placeholder, with: value) }
            let base = String(template.path.dropFirst(prefix.count).dropLast(".in".count))
            return UnitFile(fileName: base.replacing("openclaw-gateway", with: paths.unitName), contents: text)
        }
    }

    /// `%` starts a specifier in almost every unit setting; a literal one is `%%`.
    static func escapeSpecifiers(_ s: String) -> String { s.replacing("%", with: "%%") }

    /// One ExecStart= word: quoted when it holds whitespace or quotes, with
    /// `\`, `"`, `$` and `%` escaped the way systemd's command-line parser reads them.
    static func quoteWord(_ word: String) -> String {
        var escaped = escapeSpecifiers(word).replacing("$", with: "$$")
        let needsQuotes = word.isEmpty || word.contains { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "'" || $0 == "\\" }
        guard needsQuotes else { return escaped }
        escaped = escaped.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        return "\"\(escaped)\""
    }
}
