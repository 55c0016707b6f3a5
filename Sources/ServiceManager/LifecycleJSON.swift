import JSONCore

// The `--json` documents of `gateway install|uninstall|start|stop|restart` (docs/cli-json.md).
// Like the status schema, they only ever gain fields.

extension InstallResult {
    public var json: JSONValue {
        var o = JSONObject()
        o["outcome"] = .string(outcome.rawValue)
        o["unitFiles"] = .array(unitFiles.map(JSONValue.string))
        o["tokenFile"] = .string(tokenFile)
        o["tokenSource"] = .string(tokenSource)
        o["linger"] = linger.json
        o["probe"] = probe?.json ?? .null
        return .object(o)
    }
}

extension LingerOutcome {
    /// `{state, command?, error?}`; `state` is not-needed, already-on, enabled, refused or failed.
    var json: JSONValue {
        switch self {
        case .notNeeded: ["state": "not-needed"]
        case .alreadyOn: ["state": "already-on"]
        case .enabled: ["state": "enabled"]
        case .refused(let command): ["state": "refused", "command": .string(command)]
        case .failed(let why): ["state": "failed", "error": .string(why)]
        }
    }
}

extension UninstallResult {
    public var json: JSONValue {
        ["removedFiles": .array(removedFiles.map(JSONValue.string)),
         "keptStateDir": keptStateDir.map(JSONValue.string) ?? .null, "purged": .bool(keptStateDir == nil)]
    }
}

extension GatewayService.LifecycleResult {
    public var json: JSONValue {
        ["units": .array(units.map(JSONValue.string)), "probe": probe?.json ?? .null]
    }
}
