import Glibc
@testable import OpenClawCLI
import Testing

/// The repository root, from this file's path (Tests/OpenClawCLITests/ManualTests.swift).
private let repo = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
    .joined(separator: "/"))

private func read(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

@Suite struct ManualTests {
    @Test func shippedManualPageIsTheGeneratedOne() throws {
        let shipped = try #require(read(repo + "/packaging/openclaw.1"))
        #expect(shipped == Manual.render(),
                "packaging/openclaw.1 drifted from the command table: run `openclaw manual > packaging/openclaw.1`")
    }

    @Test func manualCoversEveryCommandOptionExitCodeAndVariable() {
        let page = Manual.render()
        for command in CommandTree.root.allCommands where !command.path.isEmpty {
            #expect(page.contains(".SS " + Manual.roff(command.displayName)), "\(command.displayName)")
            for option in command.options {
                #expect(page.contains("\\fB\\-\\-" + Manual.roff(option.name) + "\\fR"), "--\(option.name)")
            }
        }
        for code in 0...5 { #expect(page.contains(".B \(code)\n"), "exit code \(code)") }
        for variable in CommandTree.environment { #expect(page.contains(".B " + Manual.roff(variable.name))) }
        #expect(page.contains(".SH EXAMPLES"))
    }

    /// --help and the manual point at documents the package installs, never at the source tree.
    @Test func helpPointsOnlyAtInstalledDocuments() {
        let texts = CommandTree.root.allCommands.map(Help.render) + [Manual.render()]
        for text in texts {
            #expect(!text.contains("docs/"), "\(text.prefix(60))")
        }
    }
}

@Suite struct CompletionTests {
    @Test(arguments: ["bash", "zsh", "fish"])
    func everyCommandAndOptionIsCompleted(_ shell: String) throws {
        let script = try #require(Completion.script(for: shell))
        for command in CommandTree.root.allCommands {
            if let word = command.path.last { #expect(script.contains(word), "\(shell): \(command.displayName)") }
            for option in command.options {
                let spelled = shell == "fish" ? "-l \(option.name)" : "--\(option.name)"
                #expect(script.contains(spelled), "\(shell): --\(option.name)")
            }
        }
    }

    /// The scripts skip an option's value without knowing the command, so a name must take a
    /// value everywhere or nowhere.
    @Test func anOptionNameIsAFlagEverywhereOrAValueEverywhere() {
        var takesValue: [String: Bool] = [:]
        for command in CommandTree.root.allCommands {
            for option in command.options + CommandSpec.globalOptions {
                let value = option.valueName != nil
                #expect(takesValue[option.name, default: value] == value, "--\(option.name)")
                takesValue[option.name] = value
            }
        }
    }

    @Test func unknownShellIsAUsageError() {
        #expect(throws: UsageError.self) { try Invocation.parse(["completion", "tcsh"]) }
    }
}

@Suite struct SuggestionTests {
    @Test func typosGetTheNearestWord() {
        #expect(Suggestion.closest(to: "stauts", among: ["start", "status", "stop"]) == "status")
        #expect(Suggestion.closest(to: "jsno", among: ["json", "system"]) == "json")
        #expect(Suggestion.closest(to: "gatway", among: ["gateway", "logs"]) == "gateway")
        #expect(Suggestion.closest(to: "xyz", among: ["gateway", "logs"]) == nil)
    }

    @Test func unknownCommandAndOptionSayDidYouMean() {
        func message(_ words: [String]) -> String? {
            do { _ = try Invocation.parse(words); return nil } catch { return error.message }
        }
        #expect(message(["gateway", "stauts"])?.contains("did you mean 'status'?") == true)
        #expect(message(["gateway", "status", "--jsno"])?.contains("did you mean '--json'?") == true)
        #expect(message(["completion", "bsh"])?.contains("did you mean 'bash'?") == true)
    }
}
