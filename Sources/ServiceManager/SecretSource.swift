import Glibc
import JSONCore
import OpenClawConfig
import SystemdKit

/// One source of truth for the secret (issue 9, item 2): the CLI presents what the gateway it
/// talks to checks. An installed gateway takes its `LoadCredential=gateway-token:FILE` before the
/// environment and the config, so the CLI reads that file, named by the unit over D-Bus; an
/// explicit `--token` or `OPENCLAW_GATEWAY_TOKEN`/`_PASSWORD` still wins (the user asked for it).
extension GatewayService {
    /// The unit's credential file, when the unit is loaded and names one (one D-Bus call).
    public func credentialPath() -> String? {
        (try? withManager { (m) throws(SystemdError) in try m.unit(target.serviceUnit) })??.loadCredentials["gateway-token"]
    }

    /// `settings` with the secret the installed gateway checks.
    public func presented(_ settings: GatewaySettings, credentialPath: String?) -> GatewaySettings {
        guard settings.secretSource != "env", let path = credentialPath,
              let secret = (try? readCredential(path)).flatMap({ $0 }) else { return settings }
        var s = settings
        if s.auth == .password { s.password = secret } else { s.token = secret }
        s.secretSource = "credential"
        return s
    }

    /// The secret in the unit's credential file. A system unit's is root's (/etc/credstore); the
    /// account the gateway runs as may not read it, but may read the copy systemd handed its
    /// running gateway (`/run/credentials/UNIT/`, a read-only mount nobody but root can replace).
    func readCredential(_ path: String) throws(ServiceError) -> String? {
        do {
            return try FileIO.readText(path).flatMap(Self.trimmed)
        } catch {
            guard target.kind == .system, case .file(_, let code) = error, code == EACCES,
                  let copy = try? FileIO.readText("/run/credentials/\(target.serviceUnit)/gateway-token") else { throw error }
            return Self.trimmed(copy)
        }
    }

    /// Doctor: the config's or the environment's token disagreeing with the file the gateway checks.
    func auditSecretSources() -> [Finding] {
        guard let path = credentialPath() ?? (FileIO.exists(target.tokenFile) ? target.tokenFile : nil),
              let checked = (try? FileIO.readText(path)).flatMap({ $0.flatMap(Self.trimmed) }) else { return [] }
        var findings: [Finding] = []
        let config = try? ConfigLoader.readConfigFile(target.paths.configPath)
        if let token = config?["gateway"]?["auth"]?["token"]?.stringValue, !token.isEmpty, token != checked {
            findings.append(Finding(
                "token-disagree", .error,
                "gateway.auth.token in \(target.paths.configPath) differs from \(path), which the gateway checks "
                    + "(LoadCredential=): a gateway run by hand from this config would want another token",
                fix: "write the gateway's token into gateway.auth.token", fixable: true))
        }
        if let env = environment["OPENCLAW_GATEWAY_TOKEN"], !env.isEmpty, env != checked {
            findings.append(Finding(
                "token-env-disagree", .warning,
                "OPENCLAW_GATEWAY_TOKEN in this shell differs from \(path), which the gateway checks: every command "
                    + "run from here is refused",
                fix: "unset OPENCLAW_GATEWAY_TOKEN (or set it to the file's token)", fixable: false))
        }
        return findings
    }

    /// `doctor --fix` for "token-disagree": the config's gateway.auth.token becomes the gateway's token.
    func reconcileConfigToken() throws(ServiceError) -> String {
        guard let path = credentialPath() ?? (FileIO.exists(target.tokenFile) ? target.tokenFile : nil),
              let token = try FileIO.readText(path).flatMap(Self.trimmed) else {
            throw .config(ConfigError("no token file to reconcile gateway.auth.token with"))
        }
        try editConfig { root in
            var gateway = root["gateway"]?.objectValue ?? JSONObject()
            var auth = gateway["auth"]?.objectValue ?? JSONObject()
            auth["token"] = .string(token)
            gateway["auth"] = .object(auth)
            root["gateway"] = .object(gateway)
        }
        return "config: gateway.auth.token in \(target.paths.configPath) now matches \(path)"
    }
}
