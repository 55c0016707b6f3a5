import Glibc
import GatewayProtocol

/// Where the CLI writes, and whether it may use colour there.
///
/// Colour only when the stream is a terminal, `NO_COLOR` is unset or empty
/// (no-color.org) and `TERM` is not `dumb`; scripts that pipe the output, and
/// the system tests that compare it, always get plain text.
struct Terminal {
    let colorOut: Bool
    let colorErr: Bool
    /// stdout is a terminal: text from the gateway is shown with its control characters escaped.
    let ttyOut: Bool

    init(environment: [String: String]) {
        let allowed = (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
        ttyOut = isatty(STDOUT_FILENO) == 1
        colorOut = allowed && ttyOut
        colorErr = allowed && isatty(STDERR_FILENO) == 1
    }

    /// A log line from the gateway: never a raw escape sequence, whatever the output is
    /// (an older gateway, or a journal written by something else, may still carry them).
    func logLine(_ text: String) {
        line(ControlCharacters.escaped(text))
    }

    /// Streamed text from the gateway (agent output): on a terminal, control characters
    /// other than newline and tab are escaped so it cannot retitle, clear or rewrite the
    /// screen; piped, it is passed on exactly.
    func gatewayText(_ text: String) {
        write(ttyOut ? ControlCharacters.escaped(text, keeping: ["\n", "\t"]) : text)
    }

    enum Color: String {
        case red = "31", green = "32", yellow = "33", bold = "1", dim = "2"
    }

    func paint(_ text: String, _ color: Color) -> String {
        colorOut ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// Unbuffered, so `logs --follow` and streamed agent output appear as they come.
    func line(_ text: String) {
        write(text + "\n")
    }

    /// Streamed text that does not end the line (agent output chunks).
    func write(_ text: String) {
        writeAll(STDOUT_FILENO, text)
    }

    /// The one-sentence error every failing command ends with.
    func error(_ sentence: String) {
        let label = colorErr ? "\u{1B}[31merror:\u{1B}[0m" : "error:"
        let ended = sentence.hasSuffix(".") || sentence.hasSuffix("?") || sentence.hasSuffix("!")
        writeAll(STDERR_FILENO, "\(label) \(sentence)\(ended ? "" : ".")\n")
    }

    /// Notes that are not the command's result (a generated idempotency key, a reconnect), kept off stdout
    /// so `--json` output stays one document.
    func note(_ text: String) {
        writeAll(STDERR_FILENO, text + "\n")
    }

    private func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            // A closed pipe (`openclaw logs | head`) ends output; nothing useful is left to do.
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }
}
