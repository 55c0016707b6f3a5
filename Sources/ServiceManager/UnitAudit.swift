/// One problem `openclaw doctor` found, with its fix.
public struct Finding: Sendable, Equatable {
    public enum Severity: String, Sendable { case error, warning, info }
    /// Stable identifier for scripts and tests ("exec-start-drift", "linger-off", …).
    public var id: String
    public var severity: Severity
    public var message: String
    /// What `doctor --fix` does about it, or what to run when it cannot.
    public var fix: String
    /// Whether `doctor --fix` applies the fix itself.
    public var fixable: Bool

    public init(_ id: String, _ severity: Severity, _ message: String, fix: String, fixable: Bool) {
        self.id = id
        self.severity = severity
        self.message = message
        self.fix = fix
        self.fixable = fixable
    }
}

/// Compares installed unit files with what `install` would write now. Pure,
/// so the decisions are unit-tested without systemd.
enum UnitAudit {
    static let reinstall = "rewrite the units (`openclaw gateway install --force`)"

    /// Settings whose absence weakens the sandbox the templates set up.
    static let hardeningKeys: Set<String> = [
        "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateUsers",
        "CapabilityBoundingSet", "RestrictAddressFamilies", "SystemCallFilter", "MemoryDenyWriteExecute",
        "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictNamespaces",
    ]

    /// `installed[i]` is the on-disk text of `expected[i]`, or nil when missing.
    static func compare(expected: [UnitRenderer.UnitFile], installed: [String?], directory: String) -> [Finding] {
        var findings: [Finding] = []
        for (file, text) in zip(expected, installed) {
            let path = directory + "/" + file.fileName
            guard let text else {
                let id = file.fileName.hasSuffix(".socket") ? "socket-missing" : "unit-missing"
                findings.append(Finding(id, .error, "\(path) is missing", fix: "write it: " + reinstall, fixable: true))
                continue
            }
            guard text != file.contents else { continue }
            let want = settings(file.contents), have = settings(text)
            var accounted: Set<String> = []
            func differs(_ key: String) -> Bool { want[key] != have[key] }

            if differs("ExecStart") {
                accounted.insert("ExecStart")
                findings.append(Finding("exec-start-drift", .error,
                    "\(path): ExecStart is \(shown(have["ExecStart"])), install would write \(shown(want["ExecStart"]))",
                    fix: reinstall, fixable: true))
            }
            if differs("ListenStream") {
                accounted.insert("ListenStream")
                findings.append(Finding("port-mismatch", .error,
                    "\(path): listens on \(shown(have["ListenStream"])), the config says \(shown(want["ListenStream"]))",
                    fix: reinstall, fixable: true))
            }
            if want["WatchdogSec"] != nil && have["WatchdogSec"] == nil {
                accounted.insert("WatchdogSec")
                findings.append(Finding("watchdog-missing", .warning,
                    "\(path) has no WatchdogSec=: a hung gateway would not be restarted", fix: reinstall, fixable: true))
            }
            let weakened = hardeningKeys.filter { want[$0] != nil && differs($0) }.sorted()
            if !weakened.isEmpty {
                accounted.formUnion(weakened)
                findings.append(Finding("hardening-missing", .warning,
                    "\(path): sandboxing differs from the recommended units (\(weakened.joined(separator: ", ")))",
                    fix: reinstall, fixable: true))
            }
            let rest = Set(want.keys).union(have.keys).subtracting(accounted).filter(differs).sorted()
            guard !rest.isEmpty || accounted.isEmpty else { continue }
            findings.append(Finding("unit-differs", rest.isEmpty ? .info : .warning,
                rest.isEmpty ? "\(path) differs from the template in comments or layout only"
                    : "\(path) differs from what install would write (\(rest.joined(separator: ", ")))",
                fix: reinstall, fixable: true))
        }
        return findings
    }

    /// Setting name → its values in order (a key may repeat); section headers
    /// and comments are dropped, because only settings change behaviour.
    static func settings(_ text: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            guard !line.isEmpty, line.first != "#", line.first != ";", line.first != "[",
                  let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]).trimmingTrailingSpaces()
            out[key, default: []].append(String(line[line.index(after: eq)...]).trimmingLeadingSpaces())
        }
        return out
    }

    private static func shown(_ values: [String]?) -> String {
        guard let values, !values.isEmpty else { return "(none)" }
        return values.map { "\"\($0)\"" }.joined(separator: ", ")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }

    func trimmingLeadingSpaces() -> String { String(drop(while: { $0 == " " || $0 == "\t" })) }
}
