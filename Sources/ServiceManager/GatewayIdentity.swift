import Glibc
import JSONCore
import OpenClawConfig

/// Which gateway answered a probe, as its hello-ok says (docs/PROTOCOL-NOTES.md).
///
/// Status must not take whoever answers the port for the unit it inspects
/// (issue 9, "no false green"): another profile, another user's gateway or a
/// foreground run can hold the same address while the unit is down.
public struct GatewayIdentity: Sendable, Equatable {
    public var pid: Int64?
    public var uid: Int64?
    public var profile: String?
    public var stateDir: String?
    public var instanceId: String?
    public var host: String?

    public init(pid: Int64? = nil, uid: Int64? = nil, profile: String? = nil, stateDir: String? = nil,
                instanceId: String? = nil, host: String? = nil) {
        self.pid = pid
        self.uid = uid
        self.profile = profile
        self.stateDir = stateDir
        self.instanceId = instanceId
        self.host = host
    }

    /// Read from a hello-ok payload; nil when the gateway sends none of it (an older build).
    public init?(hello: JSONValue) {
        let server = hello["server"]
        self.init(pid: server?["pid"]?.intValue, uid: server?["uid"]?.intValue,
                  profile: server?["profile"]?.stringValue, stateDir: hello["snapshot"]?["stateDir"]?.stringValue,
                  instanceId: server?["instanceId"]?.stringValue, host: server?["host"]?.stringValue)
        if pid == nil && profile == nil && stateDir == nil { return nil }
    }

    var json: JSONValue {
        var o = JSONObject()
        o["pid"] = pid.map(JSONValue.int) ?? .null
        o["uid"] = uid.map(JSONValue.int) ?? .null
        o["profile"] = profile.map(JSONValue.string) ?? .null
        o["stateDir"] = stateDir.map(JSONValue.string) ?? .null
        o["instanceId"] = instanceId.map(JSONValue.string) ?? .null
        o["host"] = host.map(JSONValue.string) ?? .null
        return .object(o)
    }
}

/// The gateway that answered in place of the inspected unit: what it is and where it runs.
public struct OtherGateway: Sendable, Equatable {
    public var identity: GatewayIdentity
    /// Why it is not ours, one clause ("its pid 812 is not the unit's main process (none)").
    public var reason: String
    /// Its systemd unit, from /proc/PID/cgroup: "openclaw-gateway.service (user unit of alice)".
    public var unit: String?

    /// One sentence for the text status and `rpc.error`-style messages.
    public var sentence: String {
        var who: [String] = []
        if let pid = identity.pid { who.append("pid \(pid)") }
        if let unit { who.append(unit) }
        if let profile = identity.profile { who.append("profile \(profile)") }
        if let stateDir = identity.stateDir { who.append("state \(stateDir)") }
        return "another gateway answers on this address (" + who.joined(separator: ", ") + "): \(reason)"
    }

    var json: JSONValue {
        var o = JSONObject()
        o["pid"] = identity.pid.map(JSONValue.int) ?? .null
        o["unit"] = unit.map(JSONValue.string) ?? .null
        o["profile"] = identity.profile.map(JSONValue.string) ?? .null
        o["stateDir"] = identity.stateDir.map(JSONValue.string) ?? .null
        o["uid"] = identity.uid.map(JSONValue.int) ?? .null
        o["reason"] = .string(reason)
        return .object(o)
    }
}

extension GatewayIdentity {
    /// Why this gateway is not the target's, or nil when it is (or cannot be told apart).
    ///
    /// For an installed unit the pid decides: socket activation may start the
    /// service by the probe itself, so `currentMainPID` re-reads MainPID (one
    /// D-Bus call) only when the pid seen before the probe differs; a healthy
    /// gateway costs no extra call. Without a unit (a foreground run of this
    /// profile) profile, state directory and account decide.
    func mismatch(target: ServiceTarget, installed: Bool, mainPID: UInt32?,
                  currentMainPID: () -> UInt32?) -> String? {
        if let host, host != Self.localHostName() {
            return "it runs on host \(host)"
        }
        if installed, let pid {
            if let mainPID, mainPID > 0, Int64(mainPID) == pid { return nil }
            let now = currentMainPID().flatMap { $0 > 0 ? $0 : nil }
            if let now, Int64(now) == pid { return nil }
            return "its pid \(pid) is not the main process of the unit (" + (now.map { "pid \($0)" } ?? "not running") + ")"
        }
        if let profile, profile != target.paths.profileLabel {
            return "it serves profile \(profile), not \(target.paths.profileLabel)"
        }
        if let stateDir, stateDir != target.paths.stateDir {
            return "it serves \(stateDir), not \(target.paths.stateDir)"
        }
        if let uid, uid != Int64(target.uid) {
            return "it runs as uid \(uid), not as \(target.userName) (uid \(target.uid))"
        }
        return nil
    }

    static func localHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "openclaw-gateway.service (user unit of alice)" from /proc/PID/cgroup, or nil (another
    /// host, pid gone, no unit). The cgroup path names the unit; `user@UID.service` the user manager.
    static func unit(ofPID pid: Int64) -> String? {
        guard let text = try? FileIO.readText("/proc/\(pid)/cgroup") else { return nil }
        guard let path = text.split(separator: "\n").first(where: { $0.hasPrefix("0::") })?.dropFirst(3) else { return nil }
        let parts = path.split(separator: "/")
        guard let unit = parts.last(where: { $0.hasSuffix(".service") || $0.hasSuffix(".scope") }) else { return nil }
        if let manager = parts.first(where: { $0.hasPrefix("user@") && $0.hasSuffix(".service") }), manager != unit {
            let uid = manager.dropFirst(5).dropLast(8)
            let name = UInt32(uid).flatMap { getpwuid($0)?.pointee.pw_name }.map { String(cString: $0) } ?? "uid \(uid)"
            return "\(unit) (user unit of \(name))"
        }
        return "\(unit) (system unit)"
    }
}
