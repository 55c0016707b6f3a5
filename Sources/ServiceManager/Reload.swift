import Glibc
import OpenClawConfig
import SystemdKit

/// What `openclaw gateway reload` found out.
public struct ReloadResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The gateway applied the new configuration.
        case applied
        /// The gateway kept its previous configuration; the error names file, line and column.
        case rejected(String)
        /// systemd ran the reload, but the gateway could not be asked how it went (the reason).
        case unknown(String)
    }
    public var outcome: Outcome
    public var url: String
}

extension GatewayService {
    /// Reload through systemd (`ReloadUnit`, i.e. the unit's `ExecReload=`), then ask the
    /// gateway itself: the job only says that SIGHUP was sent. The gateway counts the
    /// reloads it handled (`status.reload.count`), so waiting for the count to move tells
    /// this reload's result from an earlier one's.
    public func reload(timeoutMs: Int = 15_000) throws(ServiceError) -> ReloadResult {
        try requireInstalled()
        let state = try withManager { (m) throws(SystemdError) in try m.unit(target.serviceUnit) }
        guard state?.activeState == "active" else { throw .notRunning(unit: target.serviceUnit) }

        let settings = probeSettings()
        let url = installedProbeURL(settings)
        let before = probe(settings, url: url)
        try job(.reload, target.serviceUnit, timeoutMs: timeoutMs)
        guard before.ok else {
            return ReloadResult(outcome: .unknown("the gateway did not answer before the reload: "
                + (before.error ?? "no answer")), url: url)
        }
        let seen = before.reload?.count ?? 0
        let deadline = monotonicMs() + timeoutMs
        while true {
            let now = probe(settings, url: url, timeoutMs: 2_000)
            if let reload = now.reload, reload.count > seen {
                return ReloadResult(outcome: reload.error.map { .rejected($0) } ?? .applied, url: url)
            }
            if monotonicMs() >= deadline {
                return ReloadResult(outcome: .unknown("the gateway did not report the reload within "
                    + "\(timeoutMs / 1000) s (\(now.error ?? "status shows no new reload"))"), url: url)
            }
            usleep(100_000)
        }
    }

    /// Settings to reach the running gateway with, presenting the secret its unit loads. A broken
    /// config file (what a reload is often asked to check) must not stop us from asking: the token
    /// file still works.
    private func probeSettings() -> GatewaySettings {
        presented((try? settings()) ?? GatewaySettings(paths: target.paths), credentialPath: credentialPath() ?? target.tokenFile)
    }
}
