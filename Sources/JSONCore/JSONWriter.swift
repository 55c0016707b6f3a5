extension JSONValue {
    /// Compact encoding (no whitespace), ready to be framed.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        serialize(into: &out)
        return out
    }

    /// Appends the compact encoding, so a connection can build frames into a
    /// buffer it reuses instead of allocating one per message.
    ///
    /// Strings are written as UTF-8 with only `"`, `\` and control characters
    /// escaped; non-finite doubles (which JSON cannot express) become `null`.
    public func serialize(into out: inout [UInt8]) {
        JSONByteWriter.appending(to: &out) { writer in writer.writeCompact(self) }
    }

    public var jsonString: String { String(decoding: serialized(), as: UTF8.self) }

    /// Two-space indentation, `"key": value`, keys in their stored order, and
    /// `[]`/`{}` for empty containers; no trailing newline. Meant for people
    /// (CLI `--json` output, config files), not for the wire.
    public func prettyPrinted() -> String {
        var out: [UInt8] = []
        JSONByteWriter.appending(to: &out) { writer in writer.writePretty(self, indent: 0) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Encodes into a small stack buffer and hands it to the destination array
/// in bulk.
///
/// Appending byte by byte to an `Array` pays a uniqueness and capacity check
/// per byte, which dominated serialization of small frames; here a byte is a
/// store and a bounds compare, and the array sees one `append(contentsOf:)`
/// per kilobyte.
///
/// It serializes `JSONValue` trees, and (JSONTypedWriter.swift) writes answers
/// whose shape is fixed in code field by field, without building a tree first.
public struct JSONByteWriter: ~Copyable {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var used = 0
    private var output: [UInt8]
    /// Whether the next member or element needs a comma before it (the typed writer's only state).
    var needsComma = false

    private init(buffer: UnsafeMutableBufferPointer<UInt8>, output: consuming [UInt8]) {
        self.buffer = buffer
        self.output = output
    }

    /// Runs `body` with a writer whose bytes are appended to `out` when it returns.
    public static func appending(to out: inout [UInt8], _ body: (inout JSONByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
            // Moving `out` in (rather than copying) keeps it uniquely referenced,
            // so flushing appends in place.
            var taken: [UInt8] = []
            swap(&taken, &out)
            var writer = JSONByteWriter(buffer: buffer, output: consume taken)
            body(&writer)
            writer.flush()
            swap(&writer.output, &out)
        }
    }

    private mutating func flush() {
        output.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<used]))
        used = 0
    }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        if used == buffer.count { flush() }
        buffer[used] = byte
        used += 1
    }

    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count > buffer.count - used {
            flush()
            if bytes.count > buffer.count {
                output.append(contentsOf: bytes)
                return
            }
        }
        _ = UnsafeMutableBufferPointer(rebasing: buffer[used...]).initialize(fromContentsOf: bytes)
        used += bytes.count
    }

    mutating func write(_ literal: StaticString) {
        literal.withUTF8Buffer { write($0) }
    }

    // MARK: - Values

    mutating func writeCompact(_ value: JSONValue) {
        switch value {
        case .array(let elements):
            write(UInt8(ascii: "["))
            for position in elements.indices {
                if position > 0 { write(UInt8(ascii: ",")) }
                writeCompact(elements[position])
            }
            write(UInt8(ascii: "]"))
        case .object(let object):
            write(UInt8(ascii: "{"))
            for position in object.entries.indices {
                if position > 0 { write(UInt8(ascii: ",")) }
                writeString(object.entries[position].key)
                write(UInt8(ascii: ":"))
                writeCompact(object.entries[position].value)
            }
            write(UInt8(ascii: "}"))
        default:
            writeScalar(value)
        }
    }

    mutating func writePretty(_ value: JSONValue, indent: Int) {
        switch value {
        case .array(let elements) where !elements.isEmpty:
            write(UInt8(ascii: "["))
            for position in elements.indices {
                if position > 0 { write(UInt8(ascii: ",")) }
                writeNewline(indent: indent + 1)
                writePretty(elements[position], indent: indent + 1)
            }
            writeNewline(indent: indent)
            write(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            write(UInt8(ascii: "{"))
            for position in object.entries.indices {
                if position > 0 { write(UInt8(ascii: ",")) }
                writeNewline(indent: indent + 1)
                writeString(object.entries[position].key)
                write(": ")
                writePretty(object.entries[position].value, indent: indent + 1)
            }
            writeNewline(indent: indent)
            write(UInt8(ascii: "}"))
        default:
            writeCompact(value)
        }
    }

    private mutating func writeNewline(indent: Int) {
        write(UInt8(ascii: "\n"))
        for _ in 0..<indent * 2 { write(UInt8(ascii: " ")) }
    }

    mutating func writeScalar(_ value: JSONValue) {
        switch value {
        case .null: write("null")
        case .bool(let flag): write(flag ? "true" : "false")
        case .int(let number): writeInt(number)
        case .double(let number) where number.isFinite:
            // `description` is the shortest representation that round-trips
            // and always reads as JSON ("1.0", "1e+20", "5e-324", "-0.0").
            var text = number.description
            text.withUTF8 { write($0) }
        case .double: write("null")
        case .string(let text): writeString(text)
        case .array, .object: writeCompact(value)
        }
    }

    mutating func writeInt(_ number: Int64) {
        if number < 0 { write(UInt8(ascii: "-")) }
        // 20 digits hold UInt64.max, so Int64.min's magnitude fits too.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = number.magnitude
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining != 0
            write(UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    mutating func writeString(_ text: String) {
        var text = text
        write(UInt8(ascii: "\""))
        text.withUTF8 { writeEscaped($0) }
        write(UInt8(ascii: "\""))
    }

    /// Copies runs of bytes that need no escaping in bulk.
    mutating func writeEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for position in 0..<bytes.count {
            let byte = bytes[position]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < position { write(UnsafeBufferPointer(rebasing: bytes[runStart..<position])) }
            runStart = position + 1
            write(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): write(byte)
            case 0x0A: write(UInt8(ascii: "n"))
            case 0x0D: write(UInt8(ascii: "r"))
            case 0x09: write(UInt8(ascii: "t"))
            case 0x08: write(UInt8(ascii: "b"))
            case 0x0C: write(UInt8(ascii: "f"))
            default:
                let hexDigits: StaticString = "0123456789abcdef"
                write("u00")
                write(hexDigits.utf8Start[Int(byte >> 4)])
                write(hexDigits.utf8Start[Int(byte & 0x0F)])
            }
        }
        if runStart < bytes.count { write(UnsafeBufferPointer(rebasing: bytes[runStart...])) }
    }
}
