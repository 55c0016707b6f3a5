/// Renders `--help` for a command from its spec.
enum Help {
    static func render(_ command: CommandSpec) -> String {
        var lines: [String] = []
        var usage = "Usage: " + command.displayName
        if command.path.isEmpty { usage += " [--profile NAME]" }
        if !command.subcommands.isEmpty { usage += command.runnable ? " [<command>]" : " <command>" }
        usage += command.positionals.map { " " + $0 }.joined()
        usage += " [options]"
        lines.append(usage)
        lines.append("")
        lines.append(command.summary)

        if !command.subcommands.isEmpty {
            lines.append("")
            lines.append("Commands:")
            lines += table(command.subcommands.map { ($0.path.last ?? "", $0.summary) })
        }

        var rows = (command.options + CommandSpec.globalOptions).map { option in
            let long = "--" + option.name
            let head = option.name == "help" ? "-h, --help" : option.short.map { "-\($0), \(long)" } ?? long
            return (option.valueName.map { "\(head) \($0)" } ?? head, option.help)
        }
        if command.path.isEmpty { rows.append(("--version", "Print the version.")) }
        lines.append("")
        lines.append("Options:")
        lines += table(rows)

        if !command.notes.isEmpty {
            lines.append("")
            lines.append(command.notes)
        }
        if !command.subcommands.isEmpty {
            lines.append("")
            lines.append("Run '\(command.displayName) <command> --help' for a command's options.")
        }
        return lines.joined(separator: "\n")
    }

    private static func table(_ rows: [(String, String)]) -> [String] {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { left, right in
            "  " + left + String(repeating: " ", count: width - left.count + 2) + right
        }
    }
}
