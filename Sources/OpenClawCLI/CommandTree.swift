/// Every command of `openclaw`, with the options and help text each accepts.
///
/// Parsing, `--help` and the unit tests all read this one table, so a flag
/// documented in help is a flag the parser accepts.
enum CommandTree {
    static let url = OptionSpec.value(
        "url", "URL", "Gateway WebSocket URL (default: from the config; env OPENCLAW_GATEWAY_URL).")
    static let token = OptionSpec.value(
        "token", "TOKEN", "Shared secret for the gateway (default: env OPENCLAW_GATEWAY_TOKEN, then the config).")
    static let json = OptionSpec.flag("json", "Print one JSON document instead of text.")
    /// On every command that talks to the gateway (the bound of G2's "never waits forever").
    static let timeout = OptionSpec.value(
        "timeout", "MS", "How long to wait for the gateway (connecting, then each answer), in milliseconds "
            + "(default: 10000 to connect, 30000 per answer).")
    static let system = OptionSpec.flag("system", "Act on the system unit in /etc/systemd/system instead of the user unit.")
    static let rpcSystem = OptionSpec.flag(
        "system", "Talk to the profile's system install: its socket's address and its token file (as root, or with "
            + "--token), not your own config.")

    static let rpcNotes = """
        Fails within 2 seconds, naming the URL it tried, when no gateway answers; exits 7 when
        the gateway answers but refuses the token or password.
        """

    static let serviceNotes = """
        Exit codes: 0 done, 1 failed (the error says why and what to run), 2 usage error, 3 not installed,
        6 another gateway answers on the unit's address, 7 the gateway is up but refuses our secret.
        """

    private static let runOptions: [OptionSpec] = [
        .value("port", "N", "Port to listen on when not socket-activated (default: config, then 18789)."),
        .value("bind", "ADDR", "Address to bind when not socket-activated (default: config, then 127.0.0.1)."),
        .flag("verbose", "Log every request and connection."),
    ]
    private static let runNotes =
        "Under systemd the listening socket comes from socket activation; --port and --bind then do not apply."

    static let run = CommandSpec(
        ["gateway"], "Run the gateway in the foreground (what the systemd unit runs).",
        options: runOptions,
        subcommands: [gatewayRun, install, uninstall, start, stop, restart, reload, tokenGroup, status, gatewayDoctor, health,
                      call],
        notes: runNotes
    )
    static let gatewayRun = CommandSpec(
        ["gateway", "run"], "Run the gateway in the foreground (same as 'openclaw gateway').",
        options: runOptions, notes: runNotes)

    static let install = CommandSpec(
        ["gateway", "install"], "Install and start the gateway as a systemd service (socket + service units).",
        options: [
            .flag("force", "Rewrite the units and restart even when already installed as configured."),
            .value("port", "N", "Port the socket unit listens on (default: config, then 18789)."),
            .value("token", "TOKEN", "Shared secret to install (default: the existing one, else a new one)."),
            system,
            .value("user-name", "USER", "With --system: the account the system unit runs as (default: the "
                + "package's openclaw account; a root gateway only with --user-name root)."),
            lifecycleJSON,
        ],
        notes: serviceNotes + "\n" + jsonNote
    )
    private static let jsonNote = "--json prints one document; its schema is in /usr/share/doc/openclaw/cli-json.md."
    private static let lifecycleJSON = OptionSpec.flag("json", "Print one JSON document (what was done) instead of text.")
    static let uninstall = CommandSpec(
        ["gateway", "uninstall"], "Stop, disable and remove the service units, then reload systemd.",
        options: [
            system, lifecycleJSON,
            .flag("purge", "Also delete the profile's state directory (token, config, send ledger) once stopped."),
            .flag("yes", "Confirm --purge."),
        ],
        notes: "Without --purge the state directory and the token stay, so a later install picks them up.\n"
            + serviceNotes + "\n" + jsonNote)

    static let tokenGroup = CommandSpec(
        ["gateway", "token"], "Manage the gateway's shared secret.", subcommands: [tokenRotate], runnable: false)
    static let tokenRotate = CommandSpec(
        ["gateway", "token", "rotate"],
        "Write a new token (0600), restart the gateway with it and check that it answers hello-ok with it.",
        options: [system],
        notes: "Clients that use the old token are refused from the restart on; give them the new one from the "
            + "token file.\n" + serviceNotes)
    static let start = lifecycle("start", "Start the service through systemd and wait until the gateway answers.")
    static let stop = lifecycle("stop", "Stop the service through systemd and wait until it is inactive.")
    static let restart = lifecycle(
        "restart", "Restart the service through systemd and wait until the new instance answers; connected "
            + "clients stay connected (handed to the new instance through systemd's fd store).")

    static let reload = CommandSpec(
        ["gateway", "reload"],
        "Reload the configuration through systemd and report whether the gateway applied it.",
        options: [system],
        notes: """
            The gateway re-reads openclaw.json and keeps serving; a broken file is not applied (the gateway keeps
            the previous configuration) and the error names the file, line and column. Listening address and port
            changes need a restart.
            Exit codes: 0 applied, 1 not applied or not known (the message says which and why), 2 usage error.
            """)

    private static func lifecycle(_ verb: String, _ summary: String) -> CommandSpec {
        CommandSpec(["gateway", verb], summary, options: [system, lifecycleJSON],
                    notes: serviceNotes + "\n" + jsonNote)
    }

    static let status = statusCommand(["gateway", "status"])
    /// `openclaw status`, the spelling upstream's users type.
    static let topStatus = statusCommand(["status"])

    private static func statusCommand(_ path: [String]) -> CommandSpec {
        CommandSpec(
        path, "Show the service (systemd unit) and the RPC reachability of the gateway.",
        options: [
            .value("url", "URL", "Probe this WebSocket URL instead of the one the config resolves to."),
            .flag("deep", "Also scan every systemd unit that looks like a gateway, and warn about foreign ones."),
            .flag("no-probe", "Skip the RPC probe."),
            .value("timeout", "MS", "How long the RPC probe may take, in milliseconds (default: 3000)."),
            json,
            system,
        ],
        notes: """
            Exit codes: 0 running and reachable (with --no-probe: active), 1 status could not be determined
            (no systemd manager, broken config), 2 usage error, 3 not installed, 4 installed but not running,
            5 active but the gateway does not answer, 6 another gateway (not this unit's process) answers
            on its address, 7 the gateway answers but refuses our token or password.
            --json prints one document; its schema is in /usr/share/doc/openclaw/status-json.md.
            """
        )
    }
    private static let doctorOptions: [OptionSpec] = [
        .flag("fix", "Apply the fixes and report what changed."),
        .flag("repair", "Same as --fix (upstream's spelling)."),
        json,
        system,
    ]
    static let gatewayDoctor = CommandSpec(
        ["gateway", "doctor"], "Audit the installed service against the recommended setup (same as 'openclaw doctor').",
        options: doctorOptions, notes: doctorNotes)
    static let health = healthCommand(["gateway", "health"])
    /// `openclaw health`, the spelling upstream's users type.
    static let topHealth = healthCommand(["health"])

    private static func healthCommand(_ path: [String]) -> CommandSpec {
        CommandSpec(
            path, "Ask the running gateway whether it and its channels are healthy.",
            options: [url, token, timeout, json, rpcSystem],
            notes: "Exit codes: 0 healthy, 1 unhealthy or unreachable, 2 usage error.\n" + rpcNotes)
    }
    static let call = CommandSpec(
        ["gateway", "call"], "Call one gateway method and print its result (for debugging).",
        positionals: ["METHOD"],
        options: [
            .value("params", "JSON", "Parameters as a JSON value (default: {})."),
            .flag("expect-final", "For methods answered twice (agent): skip the \"accepted\" answer and wait for the final one."),
            timeout, url, token, json, rpcSystem,
        ],
        notes: """
            Example: openclaw gateway call logs.tail --params '{"limit":5}'
            Example: openclaw gateway call agent --expect-final --timeout 600000 --params '{"message":"hi","idempotencyKey":"k1"}'
            If --timeout runs out, the request is cancelled (a cancel frame) before the command fails.

            """ + rpcNotes)

    static let logs = CommandSpec(
        ["logs"], "Print the gateway's recent log lines through its logs.tail method.",
        options: [
            .flag("follow", "Keep printing new lines; survives gateway restarts."),
            .value("limit", "N", "How many recent lines to start with (1-5000, default: 200)."),
            .value("interval", "MS", "With --follow: how often to poll, in milliseconds (default: 1000)."),
            .value("since", "TIME", "Only lines from this time on: 10m, 2h, 1d ago, or 'YYYY-MM-DD HH:MM[:SS]' (UTC)."),
            .value("priority", "LEVEL", "Only lines at this level or worse: err, warning, notice, info, debug or 0-7."),
            .value("grep", "REGEX", "Only lines matching this regular expression (case-insensitive when all lowercase)."),
            timeout, json, url, token, rpcSystem,
        ],
        notes: """
            --json prints the logs.tail result ({source, cursor, lines, cursors}) as one document; with
            --follow, one JSON object per line instead: {"line": …, "cursor": …}, the cursor being that
            line's own, where to resume. While following, a lost gateway is waited for (backoff up to 5 s)
            and the tail resumes after the last line shown.
            When the gateway does not answer, the lines are read from the journal directly (the same
            entries logs.tail serves) and a note on stderr says so.

            """ + rpcNotes)

    static let messageSend = CommandSpec(
        ["message", "send"], "Send a message through the gateway's channel.",
        options: [
            .value("target", "TO", "Recipient: a number, a nick or a #channel.", short: "t"),
            .text("message", "Message text.", short: "m"),
            .value("media", "URL", "Media to attach (repeatable).", repeatable: true),
            .value("channel", "ID", "Channel to send on (default: the linked one)."),
            .value("idempotency-key", "KEY", "Key that makes a retry deliver once (default: a new one, printed)."),
            timeout, json, url, token, rpcSystem,
        ],
        notes: "Retrying with the same --idempotency-key returns the first result and never delivers twice.\n"
            + rpcNotes)
    static let message = CommandSpec(
        ["message"], "Send messages through the gateway.", subcommands: [messageSend], runnable: false)

    static let agent = CommandSpec(
        ["agent"], "Run one agent turn through the gateway and print its reply as it streams.",
        options: [
            .text("message", "What to ask the agent."),
            .value("to", "TO", "Recipient the turn is for (a number, a nick or a #channel)."),
            .value("session", "KEY", "Run the turn in this session: the backend sees its earlier turns (see `openclaw sessions list`)."),
            .flag("deliver", "Send the final reply to --to through the channel."),
            .value("timeout", "SECONDS", "Give the run this long before it is stopped (default: the gateway's); "
                + "the command waits that long plus 30 s."),
            .flag("no-wait", "Return once the gateway accepted the run, printing its run id."),
            json, url, token, rpcSystem,
        ],
        notes: "Exit codes: 0 the run finished ok, 1 it failed, timed out or the gateway is unreachable.\n"
            + rpcNotes)

    static let sessionsList = CommandSpec(
        ["sessions", "list"], "List the gateway's sessions, most recently used first.",
        options: [.value("limit", "N", "Show at most N sessions."), json, url, token, rpcSystem],
        notes: "Keys: irc:direct:NICK and irc:group:#CHANNEL for IRC conversations; any other key names a session\n"
            + "started with `openclaw agent --session KEY`.\n" + rpcNotes)
    static let sessionsHistory = CommandSpec(
        ["sessions", "history"], "Print a session's transcript, oldest turn first.",
        positionals: ["KEY"],
        options: [.value("limit", "N", "Show the last N turns (default 100, at most 1000)."), json, url, token, rpcSystem],
        notes: rpcNotes)
    static let sessions = CommandSpec(
        ["sessions"], "Inspect the gateway's sessions and their transcripts.",
        subcommands: [sessionsList, sessionsHistory], runnable: false)

    static let doctor = CommandSpec(
        ["doctor"], "Audit the installed service, config and token, and migrate legacy installs.",
        options: doctorOptions, notes: doctorNotes)
    private static let doctorNotes = """
        Exits 1 while problems remain or when a fix failed. Lists what it checked and found fine.
        --json prints one document; its schema is in /usr/share/doc/openclaw/cli-json.md.
        """

    static let completion = CommandSpec(
        ["completion"], "Print the shell completion script for bash, zsh or fish.",
        positionals: ["SHELL"],
        choices: ["bash", "zsh", "fish"],
        notes: """
            The package installs them where each shell looks; to load one by hand:
              source <(openclaw completion bash)
              openclaw completion zsh > ~/.zfunc/_openclaw
              openclaw completion fish > ~/.config/fish/completions/openclaw.fish
            """)

    static let manual = CommandSpec(
        ["manual"], "Print this program's manual page (roff), generated from the same table as --help.",
        notes: "Read it with: openclaw manual | man -l -")

    /// Variables the CLI and the gateway read; `--help` and the manual page list them from here.
    static let environment: [(name: String, meaning: String)] = [
        ("OPENCLAW_GATEWAY_URL", "Gateway URL for the commands that talk to it."),
        ("OPENCLAW_GATEWAY_TOKEN", "Shared secret (OPENCLAW_GATEWAY_PASSWORD in password mode)."),
        ("OPENCLAW_GATEWAY_PASSWORD", "Shared secret when gateway.auth.mode is \"password\"."),
        ("OPENCLAW_GATEWAY_PORT", "Port the gateway binds when not socket-activated (below --port)."),
        ("OPENCLAW_PROFILE", "Profile when --profile is not given."),
        ("OPENCLAW_STATE_DIR", "State directory (default: ~/.openclaw or ~/.openclaw-PROFILE)."),
        ("OPENCLAW_CONFIG_PATH", "Configuration file (default: STATE_DIR/openclaw.json)."),
        ("NO_COLOR", "No colour in output (neither is there when output is not a terminal)."),
    ]

    /// The exit codes of every command; which command uses which is in its own --help.
    static let exitCodes: [(code: Int32, meaning: String)] = [
        (0, "Success; for status: running and reachable."),
        (1, "Failure; the error on stderr names the cause and the command to run next. For status: it could not "
            + "be determined (no systemd manager, broken configuration)."),
        (2, "Usage error: an unknown command or option, or a bad value."),
        (3, "The profile's unit is not installed (status; also start, stop, restart, uninstall and --system RPC "
            + "commands)."),
        (4, "status: installed but not running."),
        (5, "status: active, but the gateway does not answer."),
        (6, "Another gateway (not the unit's main process) answers on the unit's address (status, start, restart, "
            + "install)."),
        (7, "The gateway is up but refuses our token or password (status, start, restart, install and every command "
            + "that talks to the gateway)."),
    ]

    static let examples: [(command: String, what: String)] = [
        ("openclaw gateway install", "Install the user service, start it and print where it answers."),
        ("openclaw gateway status", "Show the unit and whether the gateway answers."),
        ("openclaw gateway reload", "Apply an edited openclaw.json without a restart."),
        ("openclaw logs --follow", "Follow the gateway's log across restarts."),
        ("openclaw message send --target '#ops' --message 'deployed'", "Send a message through the channel."),
        ("openclaw --profile work gateway install --port 18790", "A second, isolated gateway."),
        ("sudo openclaw gateway install --system", "A system service that runs without anyone logged in."),
    ]

    static let root = CommandSpec(
        [], "Run and manage the OpenClaw gateway.",
        options: [.flag("json", "With --version: one JSON document with version, commit and build date.")],
        subcommands: [run, topStatus, topHealth, logs, message, agent, sessions, doctor, completion, manual],
        runnable: false,
        notes: "Environment:\n"
            + environment.map { "  " + $0.name.padded(to: 26) + $0.meaning }.joined(separator: "\n")
            + "\n\nErrors are one sentence on stderr; usage errors exit with 2. The manual page has every "
            + "command, exit code and example: man openclaw."
    )
}

extension String {
    /// Left-aligned in a column of `width` characters (at least one space follows).
    func padded(to width: Int) -> String {
        self + String(repeating: " ", count: max(1, width - count))
    }
}
