import UTF8Rules

/// Incremental UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing
/// above U+10FFFF). The state carries across calls, so a text message is
/// checked fragment by fragment as it arrives and a bad byte fails the message
/// at once instead of after buffering all of it.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current scalar.
    private var needed: UInt8 = 0
    /// Allowed range of the next continuation byte (narrower right after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    public init() {}

    /// True when the bytes so far end on a scalar boundary (a complete text).
    public var isAtBoundary: Bool { needed == 0 }

    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        var validator = UTF8Validator()
        let ok = bytes.withContiguousStorageIfAvailable { validator.consume(UnsafeRawBufferPointer($0)) }
            ?? Array(bytes).withUnsafeBytes { validator.consume($0) }
        return ok && validator.isAtBoundary
    }

    /// False at the first byte that cannot continue valid UTF-8; the validator is then spent.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let count = bytes.count
        while i < count {
            if needed == 0 {
                // ASCII fast path, a word at a time.
                while i + 8 <= count, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                }
                guard i < count else { break }
                let b = bytes[i]
                i += 1
                if b < 0x80 { continue }
                guard let (continuations, first) = UTF8Rules.sequence(startingWith: b) else { return false }
                needed = UInt8(continuations)
                lower = first.lowerBound
                upper = first.upperBound
            } else {
                let b = bytes[i]
                i += 1
                guard b >= lower && b <= upper else { return false }
                needed -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }
}
