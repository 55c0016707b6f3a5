/// RFC 3629's table of well-formed UTF-8 (its section 4): the one place both the
/// WebSocket codec (text frames, close reasons) and the JSON parser take it from,
/// so "no overlongs, no surrogates, nothing above U+10FFFF" is decided once.
public enum UTF8Rules {
    /// For a byte ≥ 0x80 that starts a sequence: how many continuation bytes follow,
    /// and the range the first of them must fall in (narrower after E0, ED, F0, F4).
    /// nil for a byte that can never start a sequence (continuation bytes, C0, C1, F5…FF).
    @inlinable
    public static func sequence(startingWith lead: UInt8) -> (continuations: Int, first: ClosedRange<UInt8>)? {
        switch lead {
        case 0xC2...0xDF: (1, 0x80...0xBF)
        case 0xE0: (2, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (2, 0x80...0xBF)
        case 0xED: (2, 0x80...0x9F)
        case 0xF0: (3, 0x90...0xBF)
        case 0xF1...0xF3: (3, 0x80...0xBF)
        case 0xF4: (3, 0x80...0x8F)
        default: nil
        }
    }
}
