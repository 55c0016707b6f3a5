/// The manual page, openclaw(1), rendered from `CommandTree` plus the prose in `ManualText`.
///
/// `packaging/openclaw.1` is this output (`openclaw manual > packaging/openclaw.1`); a unit
/// test fails when the two differ, so a command or option added to the table without
/// regenerating the page is caught before it ships.
enum Manual {
    static func render() -> String {
        var out = [".TH OPENCLAW 1 \"\" \"openclaw\" \"User Commands\""]
        out += [".SH NAME", "openclaw \\- " + roff(ManualText.name)]
        out.append(".SH SYNOPSIS")
        for command in CommandTree.root.allCommands where command.runnable {
            out += [".B " + roff(command.displayName), usageTail(command), ".br"]
        }
        out.removeLast()
        out.append(".SH DESCRIPTION")
        out += paragraphs(ManualText.description)
        out.append(".SH COMMANDS")
        for command in CommandTree.root.allCommands where !command.path.isEmpty {
            out += section(command)
        }
        out.append(".SH GLOBAL OPTIONS")
        for option in CommandSpec.globalOptions { out += item(option) }
        out += [".TP", ".B \\-\\-version", "Print the version (with \\fB\\-\\-json\\fR: version, commit and build date)."]
        out.append(".SH SYSTEMD UNITS")
        out += paragraphs(ManualText.units)
        out.append(".SH FILES")
        for (path, what) in ManualText.files { out += [".TP", ".I " + roff(path), roff(what)] }
        out.append(".SH ENVIRONMENT")
        for variable in CommandTree.environment { out += [".TP", ".B " + roff(variable.name), roff(variable.meaning)] }
        out.append(".SH EXIT STATUS")
        for exit in CommandTree.exitCodes { out += [".TP", ".B \(exit.code)", roff(exit.meaning)] }
        out.append(".SH EXAMPLES")
        for example in CommandTree.examples { out += [".TP", ".B " + roff(example.command), roff(example.what)] }
        out.append(".SH SEE ALSO")
        out.append(ManualText.seeAlso.map { ".BR \($0.name) (\($0.section))" }.joined(separator: ",\n"))
        return out.joined(separator: "\n") + "\n"
    }

    private static func usageTail(_ command: CommandSpec) -> String {
        var words = command.positionals.map { "\\fI\(roff($0))\\fR" }
        if !command.options.isEmpty { words.append("[\\fIOPTIONS\\fR]") }
        return words.isEmpty ? "" : words.joined(separator: " ")
    }

    private static func section(_ command: CommandSpec) -> [String] {
        var out = [".SS " + roff(command.displayName) + (command.positionals.isEmpty ? "" : " " + command.positionals
            .map(roff).joined(separator: " "))]
        out.append(roff(command.summary))
        if !command.choices.isEmpty {
            out += [".PP", roff(command.positionals.first ?? "") + " is one of " + command.choices.map {
                "\\fB\($0)\\fR" }.joined(separator: ", ") + "."]
        }
        for option in command.options { out += item(option) }
        if !command.notes.isEmpty && !command.path.isEmpty {
            out += [".PP"] + preformatted(command.notes)
        }
        return out
    }

    private static func item(_ option: OptionSpec) -> [String] {
        let short = option.short.map { "\\fB\\-\($0)\\fR, " } ?? ""
        let head = short + "\\fB\\-\\-" + roff(option.name) + "\\fR" + (option.valueName.map { " \\fI\(roff($0))\\fR" } ?? "")
        return [".TP", head, roff(option.help)]
    }

    /// Notes keep their line breaks (they hold lists and example commands).
    private static func preformatted(_ text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { roff(String($0)) }
        return [".nf"] + lines + [".fi"]
    }

    private static func paragraphs(_ text: [String]) -> [String] {
        text.flatMap { [".PP", roff($0)] }.dropFirst().map { $0 }
    }

    /// Escapes text for roff: backslashes, hyphens (so they are not hyphenation points), and a
    /// leading `.` or `'`, which would start a request.
    static func roff(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\e"
            case "-": out += "\\-"
            default: out.append(ch)
            }
        }
        if out.hasPrefix(".") || out.hasPrefix("'") { out = "\\&" + out }
        return out
    }
}

/// The manual's prose: what the command table does not say.
enum ManualText {
    static let name = "systemd-native OpenClaw gateway and its command-line client"

    static let description = [
        "openclaw gateway runs the OpenClaw gateway: a WebSocket server (protocol version 4, one JSON object "
            + "per text frame) on 127.0.0.1:18789 by default. Under systemd it takes its listening socket from "
            + "socket activation, reports readiness, status and watchdog pings through sd_notify, and logs to the "
            + "journal with its own fields (OPENCLAW_CONN_ID, OPENCLAW_METHOD, OPENCLAW_CLIENT). Run by hand, it "
            + "binds the port itself. One gateway runs per profile: a second one with the same state directory is "
            + "refused, naming the process that holds it.",
        "On SIGTERM it sends every client a shutdown event and closes the connections: with close code 1012 and "
            + "restartExpectedMs when a restart is expected (openclaw gateway restart, or the service stopped while "
            + "its socket keeps listening), with 1001 when it is going away (openclaw gateway stop, the socket "
            + "stopped too, or run by hand). SIGHUP (openclaw gateway reload) re-reads the configuration and keeps "
            + "the previous one when the new one is broken.",
        "On the same port the gateway answers plain HTTP: GET /healthz (liveness, with the version), GET /readyz "
            + "(200 only when it listens and every configured channel is linked, else 503 with the reasons) and "
            + "GET /metrics (Prometheus text format; to loopback clients unless gateway.metrics in the configuration "
            + "is \"any\", or \"off\" to turn it off).",
        "The other commands are clients: they talk to the gateway over its WebSocket, and to systemd and logind "
            + "over D-Bus, with bounded timeouts. The wire protocol is described in "
            + "/usr/share/doc/openclaw/PROTOCOL.md.",
    ]

    static let units = [
        "The package ships two unit pairs, neither enabled; both listen on 127.0.0.1:18789, so enable one of them.",
        "systemctl --user enable --now openclaw-gateway.socket: the user unit in /usr/lib/systemd/user. Its state "
            + "directory is ~/.openclaw, and it starts only once ~/.openclaw/gateway.token exists (which openclaw "
            + "gateway install creates). loginctl enable-linger keeps it running after logout.",
        "systemctl enable --now openclaw-gateway.socket: the system unit in /usr/lib/systemd/system, running as "
            + "the system user openclaw with its state in /var/lib/openclaw and its token in "
            + "/etc/credstore/openclaw-gateway.token (root's: the service user cannot replace the file systemd reads "
            + "as root).",
        "The token reaches the gateway as the systemd credential gateway-token; openclaw gateway token rotate "
            + "writes a new one and restarts. Logs: journalctl --user -u openclaw-gateway or, for the system unit, "
            + "journalctl -u openclaw-gateway.",
        "Upgrading the package restarts a running system gateway; user gateways keep running the previous "
            + "binary until openclaw gateway restart.",
    ]

    static let files: [(path: String, what: String)] = [
        ("~/.openclaw/openclaw.json", "Configuration (~/.openclaw-PROFILE/ for a profile)."),
        ("~/.openclaw/gateway.token", "The shared secret of a user unit (mode 0600)."),
        ("/etc/credstore/openclaw-gateway.token", "The shared secret of a system unit (root's, mode 0600; "
            + "openclaw-gateway-PROFILE.token for a profile)."),
        ("~/.openclaw/gateway.lock", "Held by the running gateway: one gateway per profile."),
        ("/var/lib/openclaw", "State of the packaged system unit."),
        ("/usr/share/doc/openclaw/status-json.md", "The schema of gateway status --json."),
        ("/usr/share/doc/openclaw/cli-json.md", "The schemas of the other commands' --json output."),
        ("/usr/share/doc/openclaw/PROTOCOL.md", "The gateway's WebSocket protocol."),
    ]

    static let seeAlso: [(name: String, section: Int)] = [
        ("systemctl", 1), ("journalctl", 1), ("loginctl", 1), ("systemd.socket", 5), ("systemd.exec", 5),
    ]
}
