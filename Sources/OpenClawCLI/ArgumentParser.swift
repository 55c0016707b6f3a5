/// One `--name [VALUE]` option of a command.
struct OptionSpec: Sendable {
    let name: String
    /// The placeholder shown in help (`N`, `URL`); nil for a flag that takes no value.
    let valueName: String?
    let help: String
    /// Repeatable options collect every occurrence (`--media A --media B`); the others refuse a second one.
    let repeatable: Bool
    /// A one-letter spelling (`-t` for `--target`), for the forms upstream's CLI accepts.
    let short: Character?
    /// Free text (`--message TEXT`): the next argument is the value whatever it looks like,
    /// as getopt does, so `--message -h` sends "-h" instead of printing help.
    var freeText = false

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help, repeatable: false, short: nil)
    }

    static func value(_ name: String, _ valueName: String, _ help: String, repeatable: Bool = false,
                      short: Character? = nil) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, repeatable: repeatable, short: short)
    }

    static func text(_ name: String, _ help: String, short: Character? = nil) -> OptionSpec {
        OptionSpec(name: name, valueName: "TEXT", help: help, repeatable: false, short: short, freeText: true)
    }
}

/// A command of the tree: its options, positionals and subcommands, and the text of its `--help`.
struct CommandSpec: Sendable {
    /// Words after `openclaw`, e.g. `["gateway", "status"]`.
    let path: [String]
    let summary: String
    /// Placeholders of the positional arguments, in order (`METHOD`).
    let positionals: [String]
    /// The values the (single) positional may take, when it is one of a few words (`bash`, `zsh`, `fish`).
    let choices: [String]
    let options: [OptionSpec]
    let subcommands: [CommandSpec]
    /// False for pure groups such as `message`: they only print their help.
    let runnable: Bool
    /// Extra paragraphs for `--help` (exit codes, environment, examples).
    let notes: String

    init(_ path: [String], _ summary: String, positionals: [String] = [], choices: [String] = [],
         options: [OptionSpec] = [], subcommands: [CommandSpec] = [], runnable: Bool = true, notes: String = "") {
        self.path = path
        self.summary = summary
        self.positionals = positionals
        self.choices = choices
        self.options = options
        self.subcommands = subcommands
        self.runnable = runnable
        self.notes = notes
    }

    var displayName: String { (["openclaw"] + path).joined(separator: " ") }

    func option(named name: String) -> OptionSpec? {
        options.first { $0.name == name } ?? CommandSpec.globalOptions.first { $0.name == name }
    }

    func option(short letter: Character) -> OptionSpec? {
        options.first { $0.short == letter }
    }

    /// Every option name this command accepts, its own and the global ones (`version` at the top).
    var optionNames: [String] {
        (options + CommandSpec.globalOptions).map(\.name) + (path.isEmpty ? ["version"] : [])
    }

    /// This command and every command below it, depth first (the manual's and the completions' order).
    var allCommands: [CommandSpec] { [self] + subcommands.flatMap(\.allCommands) }

    /// Accepted by every command, before or after the command words.
    static let globalOptions: [OptionSpec] = [
        .value("profile", "NAME", "Use the isolated profile NAME (own config, state dir, port and unit)."),
        .flag("help", "Show this help."),
    ]
}

/// A command line read against the spec tree, before the values are given types.
struct ParsedArguments: Sendable {
    var command: CommandSpec
    var values: [String: [String]] = [:]
    var positionals: [String] = []
    var wantsHelp = false
    var wantsVersion = false

    func flag(_ name: String) -> Bool { values[name] != nil }
    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
}

/// A mistake in the command line: exit code 2, one sentence, and where to read the usage.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// The command whose `--help` explains the mistake.
    public let command: String

    init(_ message: String, command: CommandSpec) {
        self.message = message
        self.command = command.displayName
    }

    public var description: String { "\(message) (see '\(command) --help')." }
}

/// Reads arguments against a `CommandSpec` tree: long options (`--name value`, `--name=value`),
/// the short spellings a command declares (`-t value`), `-h`, `--` to end options, subcommand
/// words, positionals.
///
/// `--help` wins over every other mistake on the line, so a user who typed a
/// wrong flag and then `--help` gets the help of the command they reached.
struct ArgumentParser {
    let root: CommandSpec

    func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        var parsed = ParsedArguments(command: root)
        var firstError: UsageError?
        var commandOptionsSeen = false
        var onlyPositionals = false
        var index = 0

        func fail(_ message: String) {
            if firstError == nil { firstError = UsageError(message, command: parsed.command) }
        }

        while index < arguments.count {
            let token = arguments[index]
            index += 1

            if onlyPositionals || token == "-" || !token.hasPrefix("-") {
                let sub = onlyPositionals || !parsed.positionals.isEmpty ? nil
                    : parsed.command.subcommands.first(where: { $0.path.last == token })
                if let sub, !commandOptionsSeen {
                    parsed.command = sub
                } else if sub != nil {
                    fail("Put '\(token)' before the options (openclaw \((parsed.command.path + [token]).joined(separator: " ")) …)")
                } else if parsed.positionals.count < parsed.command.positionals.count {
                    parsed.positionals.append(token)
                } else if !parsed.command.subcommands.isEmpty && parsed.positionals.isEmpty {
                    let words = parsed.command.subcommands.compactMap(\.path.last)
                    fail("Unknown command '\(token)' for '\(parsed.command.displayName)'"
                        + Suggestion.hint(token, among: words))
                } else {
                    fail("Unexpected argument '\(token)'")
                }
                continue
            }
            if token == "--" {
                onlyPositionals = true
                continue
            }
            if token == "-h" {
                parsed.wantsHelp = true
                continue
            }
            var name: String
            var inlineValue: String?
            if token.hasPrefix("--") {
                name = String(token.dropFirst(2))
            } else if token.count == 2, let spec = parsed.command.option(short: token.last!) {
                name = spec.name
            } else {
                fail("Unknown option '\(token)' (options are spelled --name)")
                continue
            }
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "help" {
                parsed.wantsHelp = true
                continue
            }
            if name == "version" && parsed.command.path.isEmpty {
                parsed.wantsVersion = true
                continue
            }
            guard let spec = parsed.command.option(named: name) else {
                fail("Unknown option '--\(name)' for '\(parsed.command.displayName)'"
                    + Suggestion.hint(name, among: parsed.command.optionNames, prefix: "--"))
                continue
            }
            if spec.name != "profile" { commandOptionsSeen = true }

            let value: String
            if let valueName = spec.valueName {
                if let inlineValue {
                    value = inlineValue
                } else if index < arguments.count, spec.freeText || !looksLikeOption(arguments[index], of: parsed.command) {
                    value = arguments[index]
                    index += 1
                } else {
                    fail("Option '--\(name)' needs a value \(valueName)")
                    continue
                }
            } else {
                if inlineValue != nil {
                    fail("Option '--\(name)' takes no value")
                    continue
                }
                value = ""
            }
            if parsed.values[name] != nil && !spec.repeatable {
                fail("Option '--\(name)' was given more than once")
                continue
            }
            parsed.values[name, default: []].append(value)
        }

        if parsed.wantsHelp || parsed.wantsVersion { return parsed }
        if let firstError { throw firstError }
        if !parsed.command.runnable {
            throw UsageError("'\(parsed.command.displayName)' needs a command", command: parsed.command)
        }
        if let value = parsed.positionals.first, !parsed.command.choices.isEmpty,
           !parsed.command.choices.contains(value) {
            throw UsageError("'\(value)' is not one of \(parsed.command.choices.joined(separator: ", "))"
                + Suggestion.hint(value, among: parsed.command.choices), command: parsed.command)
        }
        if parsed.positionals.count < parsed.command.positionals.count {
            let missing = parsed.command.positionals[parsed.positionals.count]
            throw UsageError("'\(parsed.command.displayName)' needs \(missing)", command: parsed.command)
        }
        return parsed
    }

    /// A value that is itself one of the command's options is taken as a forgotten value,
    /// so `logs --limit --json` says "--limit needs a value" rather than "invalid number '--json'".
    private func looksLikeOption(_ token: String, of command: CommandSpec) -> Bool {
        guard token.hasPrefix("--") else {
            return token == "-h" || (token.count == 2 && token.first == "-" && command.option(short: token.last!) != nil)
        }
        let name = token.dropFirst(2).split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
        return name.isEmpty || name == "help" || command.option(named: name) != nil
    }
}
