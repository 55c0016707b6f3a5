import Glibc
import JSONCore
import OpenClawConfig
import Testing

@Suite struct ConfigTests {
    private func tempDir() -> String {
        var template = Array("/tmp/openclaw-config-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    private func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    @Test func profilesIsolateStateDirAndUnitName() throws {
        let plain = try OpenClawPaths.resolve(profile: nil, environment: ["HOME": "/home/a"])
        #expect(plain.stateDir == "/home/a/.openclaw" && plain.unitName == "openclaw-gateway")
        #expect(plain.configPath == "/home/a/.openclaw/openclaw.json" && plain.profileLabel == "default")
        let work = try OpenClawPaths.resolve(profile: nil, environment: ["HOME": "/home/a", "OPENCLAW_PROFILE": "work"])
        #expect(work.stateDir == "/home/a/.openclaw-work" && work.unitName == "openclaw-gateway-work")
        let flagWins = try OpenClawPaths.resolve(profile: "rescue", environment: ["HOME": "/h", "OPENCLAW_PROFILE": "work"])
        #expect(flagWins.profile == "rescue")
        let overridden = try OpenClawPaths.resolve(profile: nil, environment: [
            "HOME": "/h", "OPENCLAW_STATE_DIR": "/srv/oc", "OPENCLAW_CONFIG_PATH": "/etc/oc.json",
        ])
        #expect(overridden.stateDir == "/srv/oc" && overridden.configPath == "/etc/oc.json")
        #expect(overridden.tokenFile == "/srv/oc/gateway.token")
        #expect(throws: ConfigError.self) { try OpenClawPaths.resolve(profile: "../etc", environment: ["HOME": "/h"]) }
    }

    @Test func defaultsWithoutAConfigFile() throws {
        let dir = tempDir()
        let s = try ConfigLoader.load(paths: .init(profile: nil, stateDir: dir, configPath: dir + "/openclaw.json"),
                                      environment: [:])
        #expect(s.port == 18789 && s.bind == "127.0.0.1" && s.isLoopbackBind)
        #expect(!s.configFileExists && s.secret == nil)
    }

    @Test func precedenceFileThenEnvThenFlags() throws {
        let dir = tempDir()
        write(dir + "/openclaw.json", #"{"gateway":{"port":2000,"bind":"lan","auth":{"token":"file"}}}"#)
        let paths = OpenClawPaths(profile: nil, stateDir: dir, configPath: dir + "/openclaw.json")
        var s = try ConfigLoader.load(paths: paths, environment: [:])
        #expect(s.port == 2000 && s.bind == "0.0.0.0" && s.token == "file" && s.secretSource == "config")
        s = try ConfigLoader.load(paths: paths, environment: ["OPENCLAW_GATEWAY_PORT": "3000", "OPENCLAW_GATEWAY_TOKEN": "env"])
        #expect(s.port == 3000 && s.token == "env" && s.secretSource == "env")
        s = try ConfigLoader.load(paths: paths, environment: ["OPENCLAW_GATEWAY_PORT": "3000"], port: 4000, bind: "127.0.0.2")
        #expect(s.port == 4000 && s.bind == "127.0.0.2")
        let creds = tempDir()
        write(creds + "/gateway-token", "cred\n")
        s = try ConfigLoader.load(paths: paths, environment: ["CREDENTIALS_DIRECTORY": creds, "OPENCLAW_GATEWAY_TOKEN": "env"])
        #expect(s.token == "cred" && s.secretSource == "credential")
    }

    @Test func eachModeFindsItsOwnSecretInEverySource() throws {
        let dir = tempDir()
        write(dir + "/gateway.token", "from-file\n")
        let tokenPaths = OpenClawPaths(profile: nil, stateDir: dir, configPath: dir + "/none.json")
        var s = try ConfigLoader.load(paths: tokenPaths, environment: ["OPENCLAW_GATEWAY_PASSWORD": "pw"])
        #expect(s.secret == "from-file" && s.secretSource == "token-file")
        write(dir + "/openclaw.json", #"{"gateway":{"auth":{"mode":"password","token":"t"}}}"#)
        let paths = OpenClawPaths(profile: nil, stateDir: dir, configPath: dir + "/openclaw.json")
        s = try ConfigLoader.load(paths: paths, environment: ["OPENCLAW_GATEWAY_TOKEN": "env-token"])
        #expect(s.secret == nil)
        let error = #expect(throws: ConfigError.self) { try s.requireConfiguredSecret() }
        #expect(error?.message.contains("OPENCLAW_GATEWAY_PASSWORD") == true)
        s = try ConfigLoader.load(paths: paths, environment: ["OPENCLAW_GATEWAY_TOKEN": "t2", "OPENCLAW_GATEWAY_PASSWORD": "p"])
        #expect(s.secret == "p" && s.secretSource == "env")
        try s.requireConfiguredSecret()
    }

    @Test func onlyLiteralLoopbackAddressesAreLoopback() {
        #expect(GatewaySettings.isLoopback("127.0.0.1") && GatewaySettings.isLoopback("127.1.2.3"))
        #expect(GatewaySettings.isLoopback("::1") && GatewaySettings.isLoopback("localhost"))
        #expect(!GatewaySettings.isLoopback("127.0.0.1.evil.example") && !GatewaySettings.isLoopback("127.evil"))
        #expect(!GatewaySettings.isLoopback("127.0.0.256") && !GatewaySettings.isLoopback("10.0.0.1"))
    }

    @Test func tokenFileIsTheLastSource() throws {
        let dir = tempDir()
        write(dir + "/gateway.token", "from-file\n")
        let s = try ConfigLoader.load(paths: .init(profile: nil, stateDir: dir, configPath: dir + "/none.json"), environment: [:])
        #expect(s.token == "from-file" && s.secretSource == "token-file")
    }

    @Test func brokenFileNamesFileLineAndColumn() throws {
        let dir = tempDir()
        let path = dir + "/openclaw.json"
        write(path, "{\n  \"gateway\": {\n    \"port\": 1\n    \"bind\": \"x\"\n  }\n}\n")
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.load(paths: .init(profile: nil, stateDir: dir, configPath: path), environment: [:])
        }
        #expect(error?.message.hasPrefix("\(path) line 4, column 5") == true)
    }

    @Test func invalidValuesAreNamed() throws {
        let dir = tempDir()
        let path = dir + "/openclaw.json"
        write(path, #"{"gateway":{"port":70000}}"#)
        let paths = OpenClawPaths(profile: nil, stateDir: dir, configPath: path)
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(paths: paths, environment: [:]) }
        #expect(error?.message.contains("gateway.port") == true)
        write(path, #"{"gateway":{"auth":{"mode":"magic"}}}"#)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(paths: paths, environment: [:]) }
        write(path, "[1]")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(paths: paths, environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(paths: paths, environment: ["OPENCLAW_GATEWAY_PORT": "x"]) }
    }
}
