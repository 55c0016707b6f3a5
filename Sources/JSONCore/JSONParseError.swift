/// Why a document was refused, and where.
///
/// Line and column are computed from `offset` only when an error is raised,
/// so the parser's hot path carries nothing but a byte index. Columns count
/// Unicode scalars (not bytes), so they match what an editor shows on lines
/// that contain non-ASCII text.
public struct JSONParseError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    /// 1-based.
    public let line: Int
    /// 1-based, in Unicode scalars.
    public let column: Int
    /// 0-based byte offset into the input.
    public let offset: Int

    public init(message: String, line: Int, column: Int, offset: Int) {
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset
    }

    /// Locates `offset` in `bytes` (which must be the whole parsed input).
    init(_ message: String, at offset: Int, in bytes: UnsafeRawBufferPointer) {
        var line = 1
        var column = 1
        for index in 0..<min(offset, bytes.count) {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        self.init(message: message, line: line, column: column, offset: offset)
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}
