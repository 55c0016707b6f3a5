/// Writes frames straight into an output buffer (one reservation, one copy, masking in place).
public enum FrameEncoder {
    /// `maskingKey` is given in wire order (its big-endian bytes are the four key
    /// bytes); clients must pass a fresh random key per frame, servers nil.
    /// Control frames must carry at most 125 bytes (checked in debug builds).
    public static func append(_ opcode: Opcode, payload: UnsafeRawBufferPointer, fin: Bool = true, maskingKey: UInt32? = nil,
                              to out: inout [UInt8]) {
        let count = payload.count
        assert(!opcode.isControl || (fin && count <= 125), "control frames carry ≤ 125 bytes and are never fragmented")
        // Grow geometrically: reserving the exact size would reallocate (and copy
        // everything already queued) on every frame appended to a backlog.
        let needed = out.count + 14 + count
        if out.capacity < needed { out.reserveCapacity(max(needed, out.capacity * 2)) }
        let header = FrameHeader(opcode, payloadCount: count, fin: fin, maskingKey: maskingKey)
        withUnsafeBytes(of: header.bytes) { out.append(contentsOf: $0[..<header.count]) }
        guard count > 0 else { return }
        let start = out.count
        out.append(contentsOf: payload.assumingMemoryBound(to: UInt8.self))
        if let maskingKey {
            out.withUnsafeMutableBytes { raw in
                // The parser's unmask takes the key as loaded from wire-order bytes.
                _ = WebSocketParser.unmask(raw.baseAddress! + start, count: count, key: maskingKey.bigEndian)
            }
        }
    }

    public static func append(_ opcode: Opcode, payload: [UInt8], fin: Bool = true, maskingKey: UInt32? = nil, to out: inout [UInt8]) {
        payload.withUnsafeBytes { append(opcode, payload: $0, fin: fin, maskingKey: maskingKey, to: &out) }
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

/// A frame's header (2 to 14 bytes) built in a value, not an array: a sender hands it to the
/// socket's queue together with the payload it precedes (a broadcast's shared bytes, an
/// answer still in its JSON writer), so neither is copied into a frame first.
public struct FrameHeader {
    @usableFromInline var bytes: (UInt64, UInt64) = (0, 0)
    /// How many of `bytes` the header uses.
    public let count: Int

    /// `maskingKey` as for `FrameEncoder.append`: wire order, clients only. Inlinable: a
    /// server's text frame header folds down to a few stores.
    @inlinable
    public init(_ opcode: Opcode, payloadCount: Int, fin: Bool = true, maskingKey: UInt32? = nil) {
        var used = 0
        withUnsafeMutableBytes(of: &bytes) { out in
            func put(_ byte: UInt8) {
                out[used] = byte
                used += 1
            }
            put((fin ? 0x80 : 0) | opcode.rawValue)
            let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
            if payloadCount <= 125 {
                put(maskBit | UInt8(payloadCount))
            } else if payloadCount <= 0xFFFF {
                put(maskBit | 126)
                put(UInt8(truncatingIfNeeded: payloadCount >> 8))
                put(UInt8(truncatingIfNeeded: payloadCount))
            } else {
                put(maskBit | 127)
                for shift in stride(from: 56, through: 0, by: -8) { put(UInt8(truncatingIfNeeded: UInt64(payloadCount) >> UInt64(shift))) }
            }
            if let maskingKey {
                for shift in stride(from: 24, through: 0, by: -8) { put(UInt8(truncatingIfNeeded: maskingKey >> UInt32(shift))) }
            }
        }
        count = used
    }

    /// The header's bytes, valid while `body` runs.
    @inlinable
    public func withSpan<R>(_ body: (Span<UInt8>) -> R) -> R {
        withUnsafeBytes(of: bytes) { raw in body(Span(_unsafeBytes: UnsafeRawBufferPointer(rebasing: raw[..<count]))) }
    }
}
