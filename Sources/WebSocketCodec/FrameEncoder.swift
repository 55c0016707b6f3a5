/// Writes frames straight into an output buffer (one reservation, one copy, masking in place).
public enum FrameEncoder {
    /// `maskingKey` is given in wire order (its big-endian bytes are the four key
    /// bytes); clients must pass a fresh random key per frame, servers nil.
    /// Control frames must carry at most 125 bytes (checked in debug builds).
    public static func append(_ opcode: Opcode, payload: UnsafeRawBufferPointer, fin: Bool = true, maskingKey: UInt32? = nil,
                              to out: inout [UInt8]) {
        append(opcode, payload: payload, then: UnsafeRawBufferPointer(start: nil, count: 0), fin: fin,
               maskingKey: maskingKey, to: &out)
    }

    /// One frame whose payload is `payload` followed by `tail` (a shared event and this peer's `seq`).
    private static func append(_ opcode: Opcode, payload: UnsafeRawBufferPointer, then tail: UnsafeRawBufferPointer,
                               fin: Bool, maskingKey: UInt32?, to out: inout [UInt8]) {
        let count = payload.count + tail.count
        assert(!opcode.isControl || (fin && count <= 125), "control frames carry ≤ 125 bytes and are never fragmented")
        // Grow geometrically: reserving the exact size would reallocate (and copy
        // everything already queued) on every frame appended to a backlog.
        let needed = out.count + 14 + count
        if out.capacity < needed { out.reserveCapacity(max(needed, out.capacity * 2)) }
        appendHeader(opcode, payloadCount: count, fin: fin, maskingKey: maskingKey, to: &out)
        guard count > 0 else { return }
        let start = out.count
        out.append(contentsOf: payload.assumingMemoryBound(to: UInt8.self))
        if !tail.isEmpty { out.append(contentsOf: tail.assumingMemoryBound(to: UInt8.self)) }
        if let maskingKey {
            out.withUnsafeMutableBytes { raw in
                // The parser's unmask takes the key as loaded from wire-order bytes.
                _ = WebSocketParser.unmask(raw.baseAddress! + start, count: count, key: maskingKey.bigEndian)
            }
        }
    }

    /// The frame header alone, for a payload of `payloadCount` bytes the caller sends after
    /// it from buffers of its own (a broadcast's shared bytes go to the kernel uncopied).
    @inline(__always)
    public static func appendHeader(_ opcode: Opcode, payloadCount count: Int, fin: Bool = true, maskingKey: UInt32? = nil,
                                    to out: inout [UInt8]) {
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if count <= 125 {
            out.append(maskBit | UInt8(count))
        } else if count <= 0xFFFF {
            out.append(maskBit | 126)
            out.append(UInt8(truncatingIfNeeded: count >> 8))
            out.append(UInt8(truncatingIfNeeded: count))
        } else {
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(count) >> UInt64(shift))) }
        }
        if let maskingKey {
            out.append(UInt8(truncatingIfNeeded: maskingKey >> 24))
            out.append(UInt8(truncatingIfNeeded: maskingKey >> 16))
            out.append(UInt8(truncatingIfNeeded: maskingKey >> 8))
            out.append(UInt8(truncatingIfNeeded: maskingKey))
        }
    }

    public static func append(_ opcode: Opcode, payload: [UInt8], fin: Bool = true, maskingKey: UInt32? = nil, to out: inout [UInt8]) {
        payload.withUnsafeBytes { append(opcode, payload: $0, fin: fin, maskingKey: maskingKey, to: &out) }
    }

    /// `append` for a payload borrowed where it was written (a JSON answer still in its writer),
    /// optionally followed by `tail`.
    public static func append(_ opcode: Opcode, payload: Span<UInt8>, then tail: Span<UInt8> = Span(), fin: Bool = true,
                              maskingKey: UInt32? = nil, to out: inout [UInt8]) {
        payload.withUnsafeBytes { p in
            tail.withUnsafeBytes { t in append(opcode, payload: p, then: t, fin: fin, maskingKey: maskingKey, to: &out) }
        }
    }

    /// Status code plus as much of `reason` as fits in a control frame (123
    /// bytes), cut on a scalar boundary so the peer does not see invalid UTF-8.
    public static func closePayload(code: WebSocketCloseCode, reason: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(truncatingIfNeeded: code.rawValue >> 8), UInt8(truncatingIfNeeded: code.rawValue)]
        for scalar in reason.unicodeScalars {
            let utf8 = UTF8.encode(scalar)!
            guard out.count + utf8.count <= 125 else { break }
            out.append(contentsOf: utf8)
        }
        return out
    }
}
