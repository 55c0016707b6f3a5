import Glibc
import OpenClawConfig
import Testing
@testable import ServiceManager

/// The repository root, found from this file's path (Tests/ServiceManagerTests/…).
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n == 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Every `*.in` below `dir`, relative to it, sorted like the generator sorts.
func templatePaths(_ root: String, _ relative: String = "") -> [String] {
    guard let dir = opendir(root + "/" + relative) else { return [] }
    defer { closedir(dir) }
    var out: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name == "." || name == ".." { continue }
        let path = relative.isEmpty ? name : relative + "/" + name
        if entry.pointee.d_type == UInt8(DT_DIR) {
            out += templatePaths(root, path)
        } else if name.hasSuffix(".in") {
            out.append(path)
        }
    }
    return out.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
}

@Suite struct UnitTemplatesTests {
    /// units/ is the single source: the embedded copy must match it byte for byte.
    @Test func generatedFileMatchesUnitsDirectory() {
        let units = repositoryRoot + "/units"
        let paths = templatePaths(units)
        #expect(!paths.isEmpty)
        #expect(UnitTemplates.all.map(\.path) == paths,
                "units/ changed: run scripts/gen-unit-templates.sh")
        for (path, text) in UnitTemplates.all {
            #expect(readText(units + "/" + path) == text, "\(path) is stale: run scripts/gen-unit-templates.sh")
        }
    }
}

@Suite struct UnitRendererTests {
    let paths = OpenClawPaths(profile: nil, stateDir: "/home/alice/.openclaw", configPath: "/home/alice/.openclaw/openclaw.json")

    func file(_ files: [UnitRenderer.UnitFile], _ suffix: String) -> String {
        files.first { $0.fileName.hasSuffix(suffix) }?.contents ?? ""
    }

    @Test func userUnitsHaveEveryPlaceholderFilled() {
        let files = UnitRenderer.render(kind: .user, paths: paths, port: 18789, bind: "127.0.0.1",
                                        exec: "/usr/bin/openclaw", user: nil)
        #expect(files.map(\.fileName) == ["openclaw-gateway.service", "openclaw-gateway.socket"])
        for f in files { #expect(f.contents.firstMatch(of: /@[A-Z_]+@/) == nil, "\(f.fileName) still has a placeholder") }
        let service = file(files, ".service")
        #expect(service.contains("\nExecStart=/usr/bin/openclaw gateway --port 18789 --bind 127.0.0.1\n"))
        #expect(service.contains("\nWantedBy=default.target\n"))
        #expect(service.contains("\nLoadCredential=gateway-token:/home/alice/.openclaw/gateway.token\n"))
        #expect(service.contains("\nWorkingDirectory=/home/alice/.openclaw\n"))
        #expect(file(files, ".socket").contains("\nListenStream=127.0.0.1:18789\n"))
    }

    @Test func systemProfileUnits() {
        let work = OpenClawPaths(profile: "work", stateDir: "/srv/oc", configPath: "/srv/oc/openclaw.json")
        let files = UnitRenderer.render(kind: .system, paths: work, port: 19001, bind: "::1",
                                        exec: "/opt/open claw/bin/openclaw", user: "alice")
        #expect(files.map(\.fileName) == ["openclaw-gateway-work.service", "openclaw-gateway-work.socket"])
        let service = file(files, ".service")
        #expect(service.contains("\nUser=alice\n"))
        #expect(service.contains("\nWantedBy=multi-user.target\n"))
        #expect(service.contains("\nRequires=openclaw-gateway-work.socket\n"))
        #expect(service.contains("profile work"))
        #expect(service.contains(#"ExecStart="/opt/open claw/bin/openclaw" gateway --port 19001 --bind ::1 --profile work"#))
        #expect(file(files, ".socket").contains("\nListenStream=[::1]:19001\n"))
        // systemd reads the credential as root: never from a file the service user could swap (docs/security.md).
        #expect(service.contains("\nLoadCredential=gateway-token:/etc/credstore/openclaw-gateway-work.token\n"))
        #expect(file(files, ".socket").contains("\nAssertPathExists=/etc/credstore/openclaw-gateway-work.token\n"))
        #expect(!service.contains("/srv/oc/gateway.token"))
    }

    @Test func execWordsAreEscapedForSystemd() {
        #expect(UnitRenderer.quoteWord("/usr/bin/openclaw") == "/usr/bin/openclaw")
        #expect(UnitRenderer.quoteWord("/a b/c") == #""/a b/c""#)
        #expect(UnitRenderer.quoteWord("50%") == "50%%")
        #expect(UnitRenderer.quoteWord("$HOME") == "$$HOME")
        #expect(UnitRenderer.quoteWord(#"a"b"#) == #""a\"b""#)
    }
}
