import GatewayProtocol
import JSONCore

/// `doctor --json` (docs/cli-json.md): one document, keys always present, fields only added.
extension DoctorReport {
    public static let schemaVersion = 1

    public var json: JSONValue {
        var o = JSONObject()
        o["schemaVersion"] = .int(Int64(Self.schemaVersion))
        o["cliVersion"] = .string(BuildInfo.version)
        o["ok"] = .bool(ok)
        o["findings"] = .array(findings.map(\.json))
        o["fixed"] = .array(fixed.map(JSONValue.string))
        o["fixFailure"] = fixFailure.map(JSONValue.string) ?? .null
        o["remaining"] = .array(remaining.map(\.json))
        o["checked"] = .array(checked.map(JSONValue.string))
        return .object(o)
    }
}

extension Finding {
    var json: JSONValue {
        ["id": .string(id), "severity": .string(severity.rawValue), "message": .string(message), "fix": .string(fix),
         "fixable": .bool(fixable)]
    }
}
