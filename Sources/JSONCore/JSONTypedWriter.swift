/// Typed writing: an answer whose shape is fixed in code (a `res` envelope, `health`,
/// `hello-ok`, an event) written member by member straight into the output, instead of
/// building a `JSONValue` tree and serializing it. On the request hot path the tree's
/// allocations, retains and releases cost more than the bytes themselves.
///
///     JSONByteWriter.appending(to: &out) { w in
///         w.beginObject()
///         w.key("type"); w.string("res")
///         w.key("id"); w.string(id)
///         w.key("payload"); w.value(payload)   // a tree where one is at hand
///         w.endObject()
///     }
///
/// Commas are placed by the writer (one flag: after a value, the next member or element
/// gets one); keys and values alternate as the caller writes them, which this does not
/// check: the unit tests parse what each shape produces.
///
/// The structural calls and `key` are inlinable: a key literal's length is known where it
/// is written, so a key costs one capacity check and a few stores, not a loop.
extension JSONByteWriter {
    // MARK: - Structure

    @inlinable
    public mutating func beginObject() {
        open(UInt8(ascii: "{"))
    }

    @inlinable
    public mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    @inlinable
    public mutating func beginArray() {
        open(UInt8(ascii: "["))
    }

    @inlinable
    public mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    /// A member's key, written as is: a literal in code that needs no escaping
    /// (letters, digits, `.`, `-`, `_`; checked in debug builds).
    @inlinable @inline(__always)
    public mutating func key(_ name: StaticString) {
        assert(Self.needsNoEscaping(name), "key \(name) must be written with escapedKey(_:)")
        let count = name.utf8CodeUnitCount
        guard name.hasPointerRepresentation, count &+ 4 <= Self.capacity else { return longKey(name) }
        let at = startPiece(reserving: count &+ 3)
        buffer[at] = UInt8(ascii: "\"")
        (buffer + (at &+ 1)).update(from: name.utf8Start, count: count)
        buffer[at &+ 1 &+ count] = UInt8(ascii: "\"")
        buffer[at &+ 2 &+ count] = UInt8(ascii: ":")
        used = at &+ 3 &+ count
        needsComma = false
    }

    /// Members whose text is fixed in code, ending with the key of the member whose value comes
    /// next (`"type":"res","id":`): one copy for an envelope's constant part instead of a call
    /// per key and value. Written as is, like `key`'s name.
    @inlinable @inline(__always)
    public mutating func literalMembers(_ json: StaticString) {
        encoded(json)
        needsComma = false
    }

    /// A member's key from data (a channel or store name): escaped like any string. (Not an
    /// overload of `key`: a literal would pick the `String` one and pay for escaping.)
    public mutating func escapedKey(_ name: String) {
        separate()
        writeString(name)
        write(UInt8(ascii: ":"))
        needsComma = false
    }

    // MARK: - Values

    public mutating func string(_ text: String) {
        separate()
        writeString(text)
        needsComma = true
    }

    public mutating func int(_ number: Int64) {
        separate()
        writeInt(number)
        needsComma = true
    }

    @inlinable
    public mutating func int(_ number: Int) {
        int(Int64(number))
    }

    /// Two literals rather than one picked at run time: a constant length is copied with a
    /// few moves, a variable one with a `memcpy` call.
    @inlinable
    public mutating func bool(_ flag: Bool) {
        if flag { encoded("true") } else { encoded("false") }
    }

    @inlinable
    public mutating func null() {
        encoded("null")
    }

    /// As `JSONValue.double` writes it: shortest round-trip form, `null` when not finite.
    public mutating func double(_ number: Double) {
        separate()
        writeScalar(.double(number))
        needsComma = true
    }

    /// `units / 10^fractionDigits` as a JSON number, byte for byte what `double` writes
    /// for that quotient ("0.012", "1.5", "2.0"), without formatting a `Double`: for a
    /// duration in milliseconds measured in microseconds. Up to 3 fraction digits and
    /// |units| < 10^15, where the plain decimal is the shortest round-trip form (the
    /// quotient's ulp is below 10^-3 there); anything else goes through `double`.
    public mutating func decimal(_ units: Int64, fractionDigits: Int) {
        guard (1...3).contains(fractionDigits), units.magnitude < 1_000_000_000_000_000 else {
            var scale = 1.0
            for _ in 0..<max(0, fractionDigits) { scale *= 10 }
            return double(Double(units) / scale)
        }
        separate()
        let divisor: UInt64 = fractionDigits == 1 ? 10 : fractionDigits == 2 ? 100 : 1000
        let magnitude = units.magnitude
        if units < 0 { write(UInt8(ascii: "-")) }
        writeInt(Int64(magnitude / divisor))
        var fraction = magnitude % divisor
        var digits = fractionDigits
        while digits > 1 && fraction % 10 == 0 {  // "1.50" is "1.5"; "2.000" is "2.0"
            fraction /= 10
            digits -= 1
        }
        reserve(4)
        buffer[used] = UInt8(ascii: ".")
        var at = used &+ digits  // the last digit's place; written from there back
        for _ in 0..<digits {
            buffer[at] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: fraction % 10)
            fraction /= 10
            at &-= 1
        }
        used &+= digits &+ 1
        needsComma = true
    }

    /// A value given as a tree (a part whose shape varies, or one built elsewhere).
    public mutating func value(_ value: JSONValue) {
        separate()
        writeCompact(value)
        needsComma = true
    }

    /// One complete JSON value already encoded (serialized once, reused across answers).
    /// The bytes are copied as they are: they must be a JSON value.
    public mutating func encoded(_ bytes: [UInt8]) {
        separate()
        bytes.withUnsafeBufferPointer { write($0) }
        needsComma = true
    }

    /// A value that is a literal in code, already JSON (`"\"res\""`, `"true"`): copied as it
    /// is, not scanned for escapes, as `key` copies its name.
    @inlinable @inline(__always)
    public mutating func encoded(_ json: StaticString) {
        let count = json.utf8CodeUnitCount
        guard json.hasPointerRepresentation, count &+ 1 <= Self.capacity else { return longEncoded(json) }
        let at = startPiece(reserving: count)
        (buffer + at).update(from: json.utf8Start, count: count)
        used = at &+ count
        needsComma = true
    }

    /// Members of an object already encoded, without the braces (`"a":1,"b":2`), written
    /// where the next member goes; nothing for an empty list.
    public mutating func encodedMembers(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        separate()
        bytes.withUnsafeBufferPointer { write($0) }
        needsComma = true
    }

    // MARK: -

    @inlinable @inline(__always)
    mutating func open(_ bracket: UInt8) {
        let at = startPiece(reserving: 1)
        buffer[at] = bracket
        used = at &+ 1
        needsComma = false
    }

    @inlinable @inline(__always)
    mutating func close(_ bracket: UInt8) {
        write(bracket)
        needsComma = true
    }

    /// Room for a comma and `count` bytes, the comma written when one is due: returns where
    /// the piece's bytes go (the caller stores them and sets `used`). One capacity check.
    @inlinable @inline(__always)
    mutating func startPiece(reserving count: Int) -> Int {
        reserve(count &+ 1)
        var at = used
        if needsComma {
            buffer[at] = UInt8(ascii: ",")
            at &+= 1
        }
        return at
    }

    @inline(__always)
    private mutating func separate() {
        if needsComma { write(UInt8(ascii: ",")) }
    }

    /// `key` for a literal that is not a plain pointer or does not fit the buffer at once.
    @usableFromInline
    mutating func longKey(_ name: StaticString) {
        separate()
        write(UInt8(ascii: "\""))
        write(name)
        write(UInt8(ascii: "\""))
        write(UInt8(ascii: ":"))
        needsComma = false
    }

    /// `encoded` for a literal that is not a plain pointer or does not fit the buffer at once.
    @usableFromInline
    mutating func longEncoded(_ json: StaticString) {
        separate()
        write(json)
        needsComma = true
    }

    @usableFromInline
    static func needsNoEscaping(_ name: StaticString) -> Bool {
        name.withUTF8Buffer { bytes in
            bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        }
    }
}
