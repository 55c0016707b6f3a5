/// What an agent backend inherits from the gateway's environment: everything
/// (API keys, PATH, locale) except the gateway's own secrets and the variables
/// through which systemd talks to the gateway process. A backend runs text it
/// was sent; with the token it could act as any client, with `NOTIFY_SOCKET` it
/// could tell systemd the gateway is ready or stopping, with `LISTEN_*` or
/// `JOURNAL_STREAM`/`INVOCATION_ID` it would take descriptors and streams that
/// are not its own for its own.
enum AgentEnvironment {
    static let withheld: Set<String> = [
        "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "CREDENTIALS_DIRECTORY",
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
        "MAINPID", "MANAGERPID", "SYSTEMD_EXEC_PID", "INVOCATION_ID", "JOURNAL_STREAM", "FDSTORE",
    ]

    /// True for a `NAME=value` entry the backend does not get.
    static func isWithheld(_ entry: Substring) -> Bool {
        guard let eq = entry.firstIndex(of: "=") else { return true }
        return withheld.contains(String(entry[..<eq]))
    }
}
