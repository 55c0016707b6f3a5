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
    /// The stack buffer, `capacity` bytes; `used` of them are filled.
    @usableFromInline let buffer: UnsafeMutablePointer<UInt8>
    @usableFromInline var used = 0
    private var output: [UInt8]
    /// Whether the next member or element needs a comma before it (the typed writer's only state).
    @usableFromInline var needsComma = false

    @usableFromInline static var capacity: Int { 1024 }

    private init(buffer: UnsafeMutablePointer<UInt8>, output: consuming [UInt8]) {
        self.buffer = buffer
        self.output = output
    }

    /// Runs `body` with a writer whose bytes are appended to `out` when it returns.
    public static func appending(to out: inout [UInt8], _ body: (inout JSONByteWriter) -> Void) {
        withWriter(over: &out) { writer in
            body(&writer)
            writer.flush()
        }
    }

    /// Runs `body` with a writer, then `deliver` with everything it wrote as one span. What
    /// fits the stack buffer (most RPC answers) is handed over from there, so a frame costs
    /// one copy, into the socket's queue, instead of two (into an array, then the queue).
    /// Longer output is gathered in `spill` (empty; its capacity is reused, so a large
    /// answer sent again and again does not regrow an array each time), which is left empty.
    /// The span lives while `deliver` runs.
    public static func encoding(spillingInto spill: inout [UInt8], _ body: (inout JSONByteWriter) -> Void,
                                then deliver: (Span<UInt8>) -> Void) {
        withWriter(over: &spill) { writer in
            body(&writer)
            if writer.output.isEmpty {
                deliver(Span(_unsafeElements: UnsafeBufferPointer(start: writer.buffer, count: writer.used)))
            } else {
                writer.flush()
                deliver(writer.output.span)
                writer.output.removeAll(keepingCapacity: true)
            }
        }
    }

    /// A writer over a stack buffer whose overflow goes to `array`, for the span of `run`.
    /// The array is moved in and back (not copied), so it stays uniquely referenced and
    /// flushing appends in place.
    @inline(__always)
    private static func withWriter(over array: inout [UInt8], _ run: (inout JSONByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var taken: [UInt8] = []
            swap(&taken, &array)
            var writer = JSONByteWriter(buffer: buffer.baseAddress!, output: consume taken)
            run(&writer)
            swap(&writer.output, &array)
        }
    }

    @usableFromInline
    mutating func flush() {
        output.append(contentsOf: UnsafeBufferPointer(start: buffer, count: used))
        used = 0
    }

    /// Makes room for `count` (at most `capacity`) contiguous bytes at `buffer + used`:
    /// one check for a run of stores.
    @inlinable @inline(__always)
    mutating func reserve(_ count: Int) {
        if Self.capacity &- used < count { flush() }
    }

    @inlinable @inline(__always)
    mutating func write(_ byte: UInt8) {
        reserve(1)
        buffer[used] = byte
        used &+= 1
    }

    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        if bytes.count > Self.capacity &- used {
            flush()
            if bytes.count > Self.capacity {
                output.append(contentsOf: bytes)
                return
            }
        }
        (buffer + used).update(from: source, count: bytes.count)
        used &+= bytes.count
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

    /// Two ASCII digits per entry, "00" to "99": half the divisions of one digit at a time.
    private static var digitPairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    /// Decimal digits of `number`: a few compares (and divisions by constants, which compile
    /// to multiplications) instead of one division per digit.
    @inline(__always)
    static func digitCount(_ number: UInt64) -> Int {
        var rest = number
        var digits = 1
        if rest >= 10_000_000_000_000_000 {
            digits &+= 16
            rest /= 10_000_000_000_000_000
        }
        if rest >= 100_000_000 {
            digits &+= 8
            rest /= 100_000_000
        }
        if rest >= 10_000 {
            digits &+= 4
            rest /= 10_000
        }
        if rest >= 100 {
            digits &+= 2
            rest /= 100
        }
        if rest >= 10 { digits &+= 1 }
        return digits
    }

    mutating func writeInt(_ number: Int64) {
        reserve(20)  // 19 digits and a sign
        if number < 0 {
            buffer[used] = UInt8(ascii: "-")
            used &+= 1
        }
        var remaining = number.magnitude
        let digits = Self.digitCount(remaining)
        var at = used &+ digits
        let pairs = Self.digitPairs.utf8Start
        while remaining >= 10_000 {  // four digits per division by a constant
            let four = Int(remaining % 10_000)
            remaining /= 10_000
            let high = (four / 100) &* 2, low = (four % 100) &* 2
            at &-= 4
            buffer[at] = pairs[high]
            buffer[at &+ 1] = pairs[high &+ 1]
            buffer[at &+ 2] = pairs[low]
            buffer[at &+ 3] = pairs[low &+ 1]
        }
        if remaining >= 100 {
            let pair = Int(remaining % 100) &* 2
            remaining /= 100
            at &-= 2
            buffer[at] = pairs[pair]
            buffer[at &+ 1] = pairs[pair &+ 1]
        }
        if remaining >= 10 {
            let pair = Int(remaining) &* 2
            at &-= 2
            buffer[at] = pairs[pair]
            buffer[at &+ 1] = pairs[pair &+ 1]
        } else {
            buffer[at &- 1] = UInt8(ascii: "0") &+ UInt8(remaining)
        }
        used &+= digits
    }

    mutating func writeString(_ text: String) {
        // A native string lends its bytes as they are; `withUTF8` would copy the string
        // value first (a retain and a release per string).
        if text.utf8.withContiguousStorageIfAvailable({ writeString(utf8: $0) }) != nil { return }
        var text = text
        text.withUTF8 { writeString(utf8: $0) }
    }

    private mutating func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        // Ids, names, keys: short and clean. Copied in one pass that checks as it goes;
        // at the first byte that needs escaping, the general path starts over.
        if bytes.count &+ 2 <= Self.capacity {
            reserve(bytes.count &+ 2)
            var at = used
            buffer[at] = UInt8(ascii: "\"")
            at &+= 1
            var clean = true
            for byte in bytes {
                if Self.needsEscape(byte) {
                    clean = false
                    break
                }
                buffer[at] = byte
                at &+= 1
            }
            if clean {
                buffer[at] = UInt8(ascii: "\"")
                used = at &+ 1
                return
            }
        }
        write(UInt8(ascii: "\""))
        writeEscaped(bytes)
        write(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Copies runs of bytes that need no escaping in bulk.
    mutating func writeEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for position in 0..<bytes.count {
            let byte = bytes[position]
            guard Self.needsEscape(byte) else { continue }
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
