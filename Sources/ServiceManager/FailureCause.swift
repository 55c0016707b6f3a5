import Glibc
import SystemdKit

/// Why a start, restart or install failed, in words (issue 9, item 7): systemd's job result
/// ("failed") says only *that* it failed. The cause comes from the units' properties (Result,
/// failed Assert…=, the main process's exit status by name) and the journal's last error line.
extension GatewayService {
    func failureCause(port: Int?) -> String? {
        guard let (service, socket) = try? withManager({ (m) throws(SystemdError) in
            (try m.unit(target.serviceUnit), try m.unit(target.socketUnit))
        }) else { return nil }
        var causes: [String] = []
        for unit in [socket, service].compactMap({ $0 }) where !unit.failedAsserts.isEmpty {
            causes.append("\(unit.name) failed \(unit.failedAsserts.joined(separator: ", "))"
                + (unit.failedAsserts.contains { $0.contains(target.tokenFile) }
                    ? " (the token file is missing: `\(target.command("doctor --fix"))` creates it)" : ""))
        }
        if let socket, socket.result == "resources" {
            let address = socket.listen.first?.address ?? port.map { "port \($0)" } ?? "its address"
            let who = port.flatMap(portHolder) ?? "another program"
            causes.append("\(socket.name) could not listen on \(address): it is in use by \(who)")
        }
        if let service, service.execMainCode == 1, let status = service.execMainStatus, status != 0 {
            var cause = "\(service.name) exited with status " + Self.exitStatusName(status)
            if status == 243, let file = service.loadCredentials["gateway-token"], !FileIO.exists(file) {
                cause += " (\(file) is missing: `\(target.command("doctor --fix"))` creates it)"
            }
            causes.append(cause)
        }
        if let line = lastJournalError(), !causes.contains(where: { $0.contains(line) }) {
            causes.append("last error: \(line)")
        }
        return causes.isEmpty ? nil : causes.joined(separator: "; ")
    }

    /// Who listens on `port`: a gateway unit on either manager, else the process (from /proc), else nil.
    func portHolder(_ port: Int) -> String? {
        let suffix = ":\(port)"
        if let unit = scanForGateways(port: port).first(where: { g in
            g.activeState == "active" && g.listen.contains { $0.hasSuffix(suffix) }
                && !(g.scope == target.kind && g.unit == target.socketUnit)
        }) {
            return "\(unit.unit) (\(unit.scope.rawValue) manager)"
        }
        guard let pid = ListeningPorts.owner(port: port) else { return nil }
        let name = (try? FileIO.readText("/proc/\(pid)/comm"))?.split(separator: "\n").first.map(String.init) ?? "?"
        return "pid \(pid) (\(name)" + (GatewayIdentity.unit(ofPID: Int64(pid)).map { ", \($0)" } ?? "") + ")"
    }

    /// systemd's own exit statuses (systemd.exec(5), "Process Exit Codes") by name, with what they mean here.
    static func exitStatusName(_ status: Int32) -> String {
        let named: [Int32: (String, String)] = [
            200: ("CHDIR", "WorkingDirectory= is missing"),
            203: ("EXEC", "the ExecStart= binary is missing or not executable"),
            217: ("USER", "the User= account does not exist"),
            226: ("NAMESPACE", "systemd could not set up the sandbox (a path the unit makes writable is missing)"),
            233: ("RUNTIME_DIRECTORY", "RuntimeDirectory= could not be created"),
            238: ("STATE_DIRECTORY", "StateDirectory= could not be created"),
            243: ("CREDENTIALS", "systemd could not load the LoadCredential= token file (missing or unreadable)"),
        ]
        guard let (name, meaning) = named[status] else { return "\(status)" }
        return "\(status)/\(name): \(meaning)"
    }
}

extension ListeningPorts {
    /// The pid holding the TCP listener on `port`: its socket inode from /proc/net/tcp{,6}, then the
    /// process whose fd points at it. Other users' processes are only visible to root: nil then.
    static func owner(port: Int) -> Int32? {
        var inodes = Set<String>()
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? FileIO.readText(file) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let c = line.split(separator: " ")
                guard c.count > 9, c[3] == "0A", let colon = c[1].lastIndex(of: ":"),
                      Int(c[1][c[1].index(after: colon)...], radix: 16) == port else { continue }
                inodes.insert("socket:[\(c[9])]")
            }
        }
        guard !inodes.isEmpty, let proc = opendir("/proc") else { return nil }
        defer { closedir(proc) }
        var candidates: [Int32] = []
        while let entry = readdir(proc) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let pid = Int32(name) { candidates.append(pid) }
        }
        // The newest process first: a socket-activated service holds the fd its manager passed on.
        for pid in candidates.sorted(by: >) {
            guard let fds = opendir("/proc/\(pid)/fd") else { continue }
            defer { closedir(fds) }
            while let entry = readdir(fds) {
                let fd = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                var buffer = [CChar](repeating: 0, count: 64)
                let n = readlink("/proc/\(pid)/fd/\(fd)", &buffer, buffer.count - 1)
                guard n > 0 else { continue }
                let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if inodes.contains(target) { return pid }
            }
        }
        return nil
    }
}
