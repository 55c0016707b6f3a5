import OpenClawConfig
import SystemdKit

/// A start-up failure that ends the process (config, credential, bind), logged where an operator
/// looks for it: under systemd, journald at priority err with the gateway's identifier and
/// `OPENCLAW_*` fields, so `journalctl -u openclaw-gateway -p err` shows it (stderr would land at
/// priority info under the binary's name); run by hand, one line on stderr.
struct FatalLog {
    /// What failed, for `OPENCLAW_FATAL`: "config", "credential", "lock", "bind", "socket", "start-up".
    var kind: String
    var message: String
    var fields: [(String, String)] = []

    init(_ kind: String, _ message: String, profile: String? = nil, config: ConfigError? = nil) {
        self.kind = kind
        self.message = message
        fields.append(("OPENCLAW_FATAL", kind))
        if let profile { fields.append(("OPENCLAW_PROFILE", profile)) }
        if let path = config?.path { fields.append(("OPENCLAW_CONFIG_PATH", path)) }
        if let line = config?.line { fields.append(("OPENCLAW_CONFIG_LINE", String(line))) }
        if let column = config?.column { fields.append(("OPENCLAW_CONFIG_COLUMN", String(column))) }
    }

    /// Returns the process exit code (1).
    func emit(environment: [String: String]) -> Int32 {
        ServiceNotifier.status("failed: \(message)")
        if GatewayLog.journalListens(environment) {
            do {
                try Journal.send(message, priority: .error, identifier: GatewayLog.identifier, fields: fields)
                return 1
            } catch {
                // Fall through: a fatal error is never lost silently.
            }
        }
        writeStderr("openclaw gateway: \(message)\n")
        return 1
    }
}
