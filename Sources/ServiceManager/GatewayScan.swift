import SystemdKit

/// A unit on either manager that looks like a gateway (`status --deep`, doctor).
public struct FoundGateway: Sendable, Equatable {
    public var scope: ServiceKind
    public var unit: String
    public var activeState: String
    public var fragmentPath: String
    /// The ExecStart command line, for services.
    public var execStart: String?
    public var listen: [String]
    /// Why it was picked: "name", "exec-start" or "same-port".
    public var reason: String
    /// Installed by this config (this profile's unit on the scanned scope).
    public var ours: Bool
    /// A legacy name (clawdbot-gateway, moltbot-gateway) that doctor migrates.
    public var legacy: Bool
    /// Shipped by the package in /usr/lib/systemd (or /lib/systemd): offered, not foreign.
    public var vendor: Bool = false
    /// The openclaw profile its name says ("default" for openclaw-gateway.*), nil for other names.
    public var profile: String?

    /// Worth a warning in plain `status`: not ours, not another profile of ours (listed as such),
    /// not an idle package unit.
    var isForeign: Bool { !ours && profile == nil && !(vendor && activeState != "active") }

    public var warning: String {
        let state = activeState.isEmpty ? "" : " (\(activeState))"
        let what = legacy ? "legacy gateway unit" : reason == "same-port" ? "unit listening on the gateway's port"
            : "gateway unit not installed by this config"
        let fix = legacy ? "; `openclaw doctor --fix` migrates it" : ""
        return "\(scope.rawValue) \(what): \(unit)\(state)\(fragmentPath.isEmpty ? "" : " at \(fragmentPath)")\(fix)"
    }
}

enum GatewayNames {
    static let legacyBases = ["clawdbot-gateway", "moltbot-gateway"]
    static let bases = ["openclaw-gateway"] + legacyBases
    /// Globs for ListUnitFilesByPatterns; `match` then filters exactly.
    static let filePatterns = bases.map { $0 + "*" }

    /// "openclaw-gateway-work.service" → ("openclaw-gateway", "work"); nil for other units.
    static func match(_ unit: String) -> (base: String, profile: String?)? {
        guard let dot = unit.lastIndex(of: "."), [".service", ".socket"].contains(String(unit[dot...])) else {
            return nil
        }
        let stem = String(unit[..<dot])
        for base in bases {
            if stem == base { return (base, nil) }
            if stem.hasPrefix(base + "-") { return (base, String(stem.dropFirst(base.count + 1))) }
        }
        return nil
    }

    /// An ExecStart that runs some gateway binary (`openclaw gateway`, `clawdbot gateway`, …).
    static func execLooksLikeGateway(_ argv: [String]) -> Bool {
        guard let program = argv.first?.split(separator: "/").last else { return false }
        let known = ["openclaw", "clawdbot", "moltbot"]
        return known.contains { program.hasPrefix($0) } && (program.contains("gateway") || argv.contains("gateway"))
    }
}

extension GatewayService {
    /// Scans the user and the system manager (whichever are reachable) for
    /// units named like a gateway, running a gateway binary, or listening
    /// on `port`.
    /// Without `deep` only units *named* like a gateway are looked at (two filtered list calls per
    /// manager): cheap enough for every plain `status` (S9).
    func scanForGateways(port: Int, deep: Bool = true) -> [FoundGateway] {
        var found: [FoundGateway] = []
        for scope in [ServiceKind.user, .system] {
            guard let bus = try? (scope == .user ? Bus.user() : Bus.system()) else { continue }
            found += (try? scan(SystemdManager(bus: bus), scope: scope, port: port, deep: deep)) ?? []
        }
        return found
    }

    private func scan(_ manager: SystemdManager, scope: ServiceKind, port: Int, deep: Bool) throws(SystemdError)
        -> [FoundGateway]
    {
        // Unit files catch installed-but-stopped units; ListUnits catches loaded ones (including runtime units).
        // Plain status (not deep) keeps to one filtered ListUnits call and reads only units that are up or
        // failed: an idle unit serves nothing, and every status must stay fast.
        var names = !deep ? Set<String>() : Set(try manager.listUnitFiles(patterns: GatewayNames.filePatterns)
            .compactMap { file -> String? in
                let name = String(file.path.split(separator: "/").last ?? "")
                return GatewayNames.match(name) != nil ? name : nil
            })
        let loaded = try (deep ? manager.listUnits() : manager.listUnits(patterns: GatewayNames.filePatterns))
            .filter { $0.loadState == "loaded" && (deep || !["inactive", ""].contains($0.activeState)) }
        var candidates: [(String, String)] = names.map { ($0, "name") }
        for entry in loaded where !names.contains(entry.name) {
            if GatewayNames.match(entry.name) != nil {
                candidates.append((entry.name, "name"))
            } else if entry.name.hasSuffix(".service") || entry.name.hasSuffix(".socket") {
                candidates.append((entry.name, ""))
            }
            names.insert(entry.name)
        }
        var found: [FoundGateway] = []
        for (name, byName) in candidates.sorted(by: { $0.0 < $1.0 }) {
            let reason: String
            if !byName.isEmpty {
                reason = byName
            } else if name.hasSuffix(".service"),
                      GatewayNames.execLooksLikeGateway(try manager.execStart(ofService: name).first?.argv ?? []) {
                reason = "exec-start"
            } else if name.hasSuffix(".socket"),
                      try manager.listen(ofSocket: name).contains(where: { $0.address.hasSuffix(":\(port)") }) {
                reason = "same-port"
            } else {
                continue
            }
            // Only the few matches pay for a full property read.
            guard let state = try manager.unit(name) else { continue }
            let argv = state.execStart.first?.argv ?? []
            let ours = scope == target.kind && (name == target.serviceUnit || name == target.socketUnit)
            let legacy = GatewayNames.match(name).map { GatewayNames.legacyBases.contains($0.base) } ?? false
            let match = GatewayNames.match(name)
            found.append(FoundGateway(scope: scope, unit: name, activeState: state.activeState,
                                      fragmentPath: state.fragmentPath,
                                      execStart: argv.isEmpty ? nil : argv.joined(separator: " "),
                                      listen: state.listen.map(\.address), reason: reason, ours: ours, legacy: legacy,
                                      vendor: state.fragmentPath.hasPrefix("/usr/lib/systemd/")
                                          || state.fragmentPath.hasPrefix("/lib/systemd/"),
                                      profile: match?.base == "openclaw-gateway" ? match?.profile ?? "default" : nil))
        }
        return found
    }
}

/// One other install of openclaw (its socket and service together), as plain `status` names it.
public struct OtherInstance: Sendable, Equatable {
    public var profile: String
    public var scope: ServiceKind
    /// The more telling of the two units' states: active, else failed, else the first one's.
    public var activeState: String
    public var listen: [String]

    static func group(_ units: [FoundGateway]) -> [OtherInstance] {
        var out: [OtherInstance] = []
        for unit in units {
            guard let profile = unit.profile else { continue }
            if let i = out.firstIndex(where: { $0.profile == profile && $0.scope == unit.scope }) {
                let rank = ["active": 2, "failed": 1]
                if rank[unit.activeState, default: 0] > rank[out[i].activeState, default: 0] {
                    out[i].activeState = unit.activeState
                }
                out[i].listen += unit.listen
            } else {
                out.append(OtherInstance(profile: profile, scope: unit.scope, activeState: unit.activeState,
                                         listen: unit.listen))
            }
        }
        return out
    }

    /// "work (user manager, active on 127.0.0.1:18800)"
    public var summary: String {
        "\(profile) (\(scope.rawValue) manager, \(activeState)" + (listen.isEmpty ? "" : " on " + listen.joined(separator: ", ")) + ")"
    }
}
