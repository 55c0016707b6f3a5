import GatewayProtocol
import JSONCore

/// `status --json` (S4). The schema is documented in docs/status-json.md:
/// fields are only ever added, absent values are `null` (never omitted), so
/// scripts can rely on every key existing.
extension StatusReport {
    public var json: JSONValue {
        var o = JSONObject()
        o["schemaVersion"] = .int(Int64(Self.schemaVersion))
        o["cliVersion"] = .string(BuildInfo.version)
        o["exitCode"] = .int(Int64(exitCode.rawValue))
        o["state"] = .string(exitCode.name)
        o["profile"] = .string(profile)
        o["configPath"] = .string(configPath)
        o["configError"] = configError.json
        o["probeTarget"] = .string(probeTarget)
        o["service"] = service.json
        o["rpc"] = rpc.map(\.json) ?? .null
        o["lastErrorLine"] = lastErrorLine.json
        o["gateways"] = gateways.map { .array($0.map(\.json)) } ?? .null
        o["warnings"] = .array(warnings.map(JSONValue.string))
        o["otherGateway"] = otherGateway.map(\.json) ?? .null
        o["configPresent"] = .bool(configPresent)
        o["lastRestart"] = lastRestart.json
        o["otherInstances"] = .array(otherInstances.map { instance in
            ["profile": .string(instance.profile), "scope": .string(instance.scope.rawValue),
             "activeState": .string(instance.activeState), "listen": .array(instance.listen.map(JSONValue.string))]
        })
        return .object(o)
    }
}

extension StatusExit {
    /// The `state` word of the JSON document.
    public var name: String {
        switch self {
        case .running: "running"
        case .error: "error"
        case .notInstalled: "not-installed"
        case .notRunning: "not-running"
        case .unreachable: "unreachable"
        case .otherGateway: "other-gateway"
        case .authRefused: "auth-refused"
        }
    }
}

extension ServiceSection {
    var json: JSONValue {
        var o = JSONObject()
        o["scope"] = .string(scope.rawValue)
        o["unit"] = .string(unit)
        o["socketUnit"] = .string(socketUnit)
        o["installed"] = .bool(installed)
        o["unitFilePath"] = unitFilePath.json
        o["tokenFile"] = credentialPath.json
        o["loadState"] = loadState.json
        o["unitFileState"] = unitFileState.json
        o["activeState"] = activeState.json
        o["subState"] = subState.json
        o["mainPid"] = mainPID.map { .int(Int64($0)) } ?? .null
        o["activeSinceUsec"] = activeSinceUsec.map { .int(Int64(clamping: $0)) } ?? .null
        o["restarts"] = restarts.map { .int(Int64($0)) } ?? .null
        o["lastExitCode"] = lastExitCode.json
        o["lastExitStatus"] = lastExitStatus.map { .int(Int64($0)) } ?? .null
        o["result"] = result.json
        o["statusText"] = statusText.json
        o["socketActiveState"] = socketActiveState.json
        o["socketSubState"] = socketSubState.json
        o["listen"] = .array(listen.map(JSONValue.string))
        o["needDaemonReload"] = .bool(needDaemonReload)
        o["error"] = error.json
        return .object(o)
    }
}

extension ProbeResult {
    var json: JSONValue {
        var o = JSONObject()
        o["url"] = .string(url)
        o["ok"] = .bool(ok)
        o["error"] = error.json
        o["roundTripMs"] = roundTripMs.map(JSONValue.double) ?? .null
        o["version"] = version.json
        o["pid"] = pid.map(JSONValue.int) ?? .null
        o["uptimeMs"] = uptimeMs.map(JSONValue.int) ?? .null
        o["clients"] = clients.map(JSONValue.int) ?? .null
        o["activation"] = activation.json
        o["channels"] = channels ?? .null
        o["storage"] = storage ?? .null
        o["handover"] = handover ?? .null
        o["identity"] = identity.map(\.json) ?? .null
        o["authRefusal"] = authRefusal.json
        return .object(o)
    }
}

extension FoundGateway {
    var json: JSONValue {
        var o = JSONObject()
        o["scope"] = .string(scope.rawValue)
        o["unit"] = .string(unit)
        o["activeState"] = .string(activeState)
        o["fragmentPath"] = .string(fragmentPath)
        o["execStart"] = execStart.json
        o["listen"] = .array(listen.map(JSONValue.string))
        o["reason"] = .string(reason)
        o["ours"] = .bool(ours)
        o["legacy"] = .bool(legacy)
        o["vendor"] = .bool(vendor)
        o["profile"] = profile.map(JSONValue.string) ?? .null
        return .object(o)
    }
}

extension Optional<String> {
    fileprivate var json: JSONValue { map(JSONValue.string) ?? .null }
}
