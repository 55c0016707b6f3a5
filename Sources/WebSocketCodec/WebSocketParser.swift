public enum WebSocketRole: Sendable {
    case server
    case client
}

public enum Opcode: UInt8, Sendable {
    case continuation = 0
    case text = 1
    case binary = 2
    case close = 8
    case ping = 9
    case pong = 10

    public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// One complete message. Text is validated UTF-8 and data messages are
/// reassembled from their fragments; control frames come through on their own,
/// even between fragments.
public enum WebSocketMessage: Sendable, Equatable {
    case text([UInt8])
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// `code` is nil for an empty close payload (the peer sent no status: 1005 locally).
    case close(code: UInt16?, reason: String)
}

/// One complete message as `WebSocketParser.nextInput()` gives it: a text message is not
/// copied out of the parser but lent as a slice of its input buffer (unmasked in place and
/// validated), which is all a reader that parses it right away needs. Other messages are
/// as in `WebSocketMessage`.
public enum WebSocketInput: Sendable {
    /// Shares the parser's buffer: drop it before the next `feed`/`nextInput` (as a
    /// `switch` over one message does), or the parser's next write to its buffer has to
    /// copy the buffer instead of reusing it.
    case text(ArraySlice<UInt8>)
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(code: UInt16?, reason: String)
}

extension WebSocketMessage {
    /// `input` with its text copied into an array of its own.
    public init(_ input: WebSocketInput) {
        switch input {
        case .text(let bytes): self = .text(Array(bytes))
        case .binary(let bytes): self = .binary(bytes)
        case .ping(let bytes): self = .ping(bytes)
        case .pong(let bytes): self = .pong(bytes)
        case .close(let code, let reason): self = .close(code: code, reason: reason)
        }
    }
}

/// Incremental RFC 6455 frame parser: `feed` bytes as they arrive, then call
/// `next` until it returns nil.
///
/// Every rule is checked as soon as the bytes that decide it are there, and a
/// data frame that would push the message past `maxMessageSize` is refused from
/// its header (1009) before its payload is buffered. A violation is sticky:
/// `next` throws the same error again and further input is dropped, so the
/// caller only has to send a close frame with `closeCode` and hang up.
public struct WebSocketParser: Sendable {
    public let role: WebSocketRole
    /// Largest reassembled data message accepted (control frames are capped at 125 bytes by the RFC).
    public var maxMessageSize: Int

    /// Input: `buffer[readIndex..<writeIndex]` is not consumed yet, and what lies past
    /// `writeIndex` is room for more (its contents mean nothing). The array's count is its
    /// capacity, so emptying it is two stores and appending one copy, not a trip through
    /// Array's range replacement for every read.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var writeIndex = 0
    /// Opcode (text or binary) of the fragmented message in progress.
    private var messageOpcode: Opcode?
    private var fragments: [UInt8] = []
    private var utf8 = UTF8Validator()
    /// Payload bytes of the text frame at `readIndex` already checked by `utf8`
    /// while the rest of that frame was still on its way.
    private var validatedPrefix = 0
    private var failure: WebSocketProtocolError?

    /// Capacity above which the buffer is released rather than kept for reuse,
    /// so one big message does not pin memory for the rest of a connection.
    private static let retainedCapacity = 256 * 1024

    public init(role: WebSocketRole, maxMessageSize: Int) {
        self.role = role
        self.maxMessageSize = maxMessageSize
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        compact()
        if buffer.count - writeIndex < bytes.count { grow(toAdd: bytes.count) }
        buffer.withUnsafeMutableBytes { raw in
            UnsafeMutableRawBufferPointer(rebasing: raw[writeIndex..<(writeIndex + bytes.count)]).copyMemory(from: bytes)
        }
        writeIndex += bytes.count
    }

    /// Room for `count` more bytes: a new buffer of twice the size (at least what is needed)
    /// holding the unconsumed input at its start.
    private mutating func grow(toAdd count: Int) {
        let pending = writeIndex - readIndex
        let capacity = max(pending + count, buffer.count * 2)
        buffer = [UInt8](unsafeUninitializedCapacity: capacity) { out, initialized in
            let room = UnsafeMutableRawBufferPointer(out)
            buffer.withUnsafeBytes { old in
                UnsafeMutableRawBufferPointer(rebasing: room[..<pending]).copyMemory(from: UnsafeRawBufferPointer(rebasing: old[readIndex..<writeIndex]))
            }
            UnsafeMutableRawBufferPointer(rebasing: room[pending...]).initializeMemory(as: UInt8.self, repeating: 0)
            initialized = capacity
        }
        readIndex = 0
        writeIndex = pending
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Bytes fed but not yet consumed by `next`.
    public var bufferedByteCount: Int { writeIndex - readIndex }

    /// Bytes that, fed to a fresh parser of the same role, put it in this one's state: the
    /// fragments of a message in progress as one unfinished frame (masked with the all-zero key,
    /// which leaves the payload as it is), then the input not yet consumed. This is how a
    /// connection moves to another process in the middle of a message. Empty after a violation.
    public var pendingInput: [UInt8] {
        guard failure == nil else { return [] }
        var out: [UInt8] = []
        if let messageOpcode {
            out.reserveCapacity(fragments.count + 14 + bufferedByteCount)
            let mask: UInt8 = role == .server ? 0x80 : 0
            out.append(messageOpcode.rawValue)  // FIN clear: more fragments follow
            switch fragments.count {
            case ..<126:
                out.append(mask | UInt8(fragments.count))
            case ..<65536:
                out.append(mask | 126)
                out.append(contentsOf: [UInt8(fragments.count >> 8), UInt8(fragments.count & 0xFF)])
            default:
                out.append(mask | 127)
                out.append(contentsOf: (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(fragments.count) >> ($0 * 8)) })
            }
            if mask != 0 { out.append(contentsOf: [0, 0, 0, 0]) }
            out.append(contentsOf: fragments)
        }
        out.append(contentsOf: buffer[readIndex..<writeIndex])
        return out
    }

    /// Next complete message, nil when more bytes are needed.
    public mutating func next() throws(WebSocketProtocolError) -> WebSocketMessage? {
        try nextInput().map(WebSocketMessage.init)
    }

    /// `next()` without copying a text message out of the buffer (the server's hot path:
    /// no allocation per request).
    public mutating func nextInput() throws(WebSocketProtocolError) -> WebSocketInput? {
        if let failure { throw failure }
        if readIndex == writeIndex {  // the usual end of a read: all consumed, nothing to parse
            compact()
            return nil
        }
        do {
            guard let message = try parseNext() else {
                // Everything complete is consumed: release a large buffer now rather than
                // at the next read, which an idle connection may never have.
                compact()
                return nil
            }
            return message
        } catch {
            failure = error
            buffer = []
            readIndex = 0
            writeIndex = 0
            fragments = []
            validatedPrefix = 0
            throw error
        }
    }

    private mutating func compact() {
        if readIndex == writeIndex {
            if buffer.count > Self.retainedCapacity { buffer = [] }
            readIndex = 0
            writeIndex = 0
        } else if readIndex > 0 && (readIndex >= 64 * 1024 || readIndex * 2 >= writeIndex) {
            let pending = writeIndex - readIndex
            buffer.withUnsafeMutableBytes { raw in  // overlapping ranges: copyMemory moves like memmove
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + readIndex, byteCount: pending)
            }
            readIndex = 0
            writeIndex = pending
        }
    }

    private mutating func parseNext() throws(WebSocketProtocolError) -> WebSocketInput? {
        while true {
            let available = writeIndex - readIndex
            guard available >= 1 else { return nil }
            let b0 = buffer[readIndex]
            guard b0 & 0x70 == 0 else { throw WebSocketProtocolError(.protocolError, "reserved bits set") }
            guard let opcode = Opcode(rawValue: b0 & 0x0F) else {
                throw WebSocketProtocolError(.protocolError, "reserved opcode \(b0 & 0x0F)")
            }
            let fin = b0 & 0x80 != 0
            if opcode.isControl {
                guard fin else { throw WebSocketProtocolError(.protocolError, "fragmented control frame") }
            } else if opcode == .continuation {
                guard messageOpcode != nil else {
                    throw WebSocketProtocolError(.protocolError, "continuation frame without a message in progress")
                }
            } else {
                guard messageOpcode == nil else {
                    throw WebSocketProtocolError(.protocolError, "new data frame while a fragmented message is in progress")
                }
            }

            guard available >= 2 else { return nil }
            let b1 = buffer[readIndex + 1]
            let masked = b1 & 0x80 != 0
            switch role {
            case .server where !masked: throw WebSocketProtocolError(.protocolError, "client frame is not masked")
            case .client where masked: throw WebSocketProtocolError(.protocolError, "server frame is masked")
            default: break
            }
            let length7 = b1 & 0x7F
            if opcode.isControl && length7 > 125 {
                throw WebSocketProtocolError(.protocolError, "control frame payload over 125 bytes")
            }

            var headerLength = 2
            let length: UInt64
            switch length7 {
            case 126:
                headerLength += 2
                guard available >= headerLength else { return nil }
                length = UInt64(buffer[readIndex + 2]) << 8 | UInt64(buffer[readIndex + 3])
            case 127:
                guard available >= 3 else { return nil }
                guard buffer[readIndex + 2] & 0x80 == 0 else {
                    throw WebSocketProtocolError(.protocolError, "64-bit payload length with the top bit set")
                }
                headerLength += 8
                guard available >= headerLength else { return nil }
                var l: UInt64 = 0
                for i in 2..<10 { l = l << 8 | UInt64(buffer[readIndex + i]) }
                length = l
            default:
                length = UInt64(length7)
            }
            if !opcode.isControl && length > UInt64(max(0, maxMessageSize - fragments.count)) {
                throw WebSocketProtocolError(.messageTooBig, "message exceeds \(maxMessageSize) bytes")
            }

            let keyOffset = readIndex + headerLength
            if masked { headerLength += 4 }
            let payloadLength = Int(length)
            let payloadStart = readIndex + headerLength
            let isTextFrame = opcode == .text || (opcode == .continuation && messageOpcode == .text)
            if opcode == .text && validatedPrefix == 0 { utf8 = UTF8Validator() }
            guard available >= headerLength + payloadLength else {
                if isTextFrame && available > headerLength {
                    try validatePartial(payloadStart: payloadStart, keyOffset: masked ? keyOffset : nil)
                }
                return nil
            }
            let checked = validatedPrefix
            validatedPrefix = 0
            readIndex = payloadStart + payloadLength
            let key: UInt32? = masked
                ? buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: keyOffset, as: UInt32.self) } : nil

            if opcode.isControl {
                let payload = extract(from: payloadStart, count: payloadLength, key: key)
                switch opcode {
                case .ping: return .ping(payload)
                case .pong: return .pong(payload)
                default: return try closeMessage(payload)
                }
            }

            if fin && opcode != .continuation {
                guard opcode == .text else { return .binary(extract(from: payloadStart, count: payloadLength, key: key)) }
                // Unmasked where it lies (the bytes before `readIndex` are never read again), then
                // lent out: no copy. All ASCII and nothing checked ahead: valid without a second pass.
                let payload = payloadStart..<(payloadStart + payloadLength)
                let valid = buffer.withUnsafeMutableBytes { raw in
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: raw[payload])
                    let ascii = Self.unmask(bytes.baseAddress, count: bytes.count, key: key)
                    return ascii && checked == 0 || utf8.consume(UnsafeRawBufferPointer(rebasing: bytes[checked...]))
                }
                guard valid && utf8.isAtBoundary else {
                    throw WebSocketProtocolError(.invalidPayload, "text message is not valid UTF-8")
                }
                return .text(buffer[payload])
            }

            if opcode != .continuation { messageOpcode = opcode }
            let start = fragments.count
            fragments.append(contentsOf: buffer[payloadStart..<(payloadStart + payloadLength)])
            let isText = messageOpcode == .text
            let valid = fragments.withUnsafeMutableBytes { raw in
                let tail = UnsafeMutableRawBufferPointer(rebasing: raw[start...])
                if let key { _ = Self.unmask(tail.baseAddress, count: tail.count, key: key) }
                return !isText || utf8.consume(UnsafeRawBufferPointer(rebasing: tail[checked...]))
            }
            guard valid else { throw WebSocketProtocolError(.invalidPayload, "text message is not valid UTF-8") }
            guard fin else { continue }

            let message = fragments
            fragments = []
            messageOpcode = nil
            guard isText else { return .binary(message) }
            guard utf8.isAtBoundary else {
                throw WebSocketProtocolError(.invalidPayload, "text message ends inside a UTF-8 sequence")
            }
            return .text(message[...])
        }
    }

    /// Checks the part of a text frame that has arrived so far, so invalid
    /// UTF-8 is refused when its bytes arrive, not when the frame completes
    /// (Autobahn 6.4.3/6.4.4). Copies only the new bytes; a frame that arrives
    /// whole never comes here.
    private mutating func validatePartial(payloadStart: Int, keyOffset: Int?) throws(WebSocketProtocolError) {
        let from = payloadStart + validatedPrefix
        guard from < writeIndex else { return }
        var chunk = Array(buffer[from..<writeIndex])
        if let keyOffset {
            for i in chunk.indices { chunk[i] ^= buffer[keyOffset + ((validatedPrefix + i) & 3)] }
        }
        validatedPrefix += chunk.count
        guard chunk.withUnsafeBytes({ utf8.consume($0) }) else {
            throw WebSocketProtocolError(.invalidPayload, "text message is not valid UTF-8")
        }
    }

    private func closeMessage(_ payload: [UInt8]) throws(WebSocketProtocolError) -> WebSocketInput {
        guard !payload.isEmpty else { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else { throw WebSocketProtocolError(.protocolError, "close payload of 1 byte") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode(code).isSendable else {
            throw WebSocketProtocolError(.protocolError, "invalid close code \(code)")
        }
        let reason = payload[2...]
        guard UTF8Validator.isValid(reason) else {
            throw WebSocketProtocolError(.invalidPayload, "close reason is not valid UTF-8")
        }
        return .close(code: code, reason: String(decoding: reason, as: UTF8.self))
    }

    /// Copies (and unmasks) one payload out of the input buffer in a single pass.
    private func extract(from start: Int, count: Int, key: UInt32?) -> [UInt8] {
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            buffer.withUnsafeBytes { raw in
                let source = raw.baseAddress! + start
                let destination = UnsafeMutableRawPointer(out.baseAddress!)
                destination.copyMemory(from: source, byteCount: count)
                if let key { _ = Self.unmask(destination, count: count, key: key) }
            }
            initialized = count
        }
    }

    /// XORs `count` bytes in place with the 4-byte key (in wire order, loaded
    /// natively; nil: an unmasked frame, left as it is), eight bytes at a time. Payload
    /// offset 0 lines up with key byte 0. Returns whether every resulting byte is ASCII,
    /// seen on the way for free (the common text message then needs no UTF-8 pass).
    @inline(__always)
    static func unmask(_ pointer: UnsafeMutableRawPointer?, count: Int, key: UInt32?) -> Bool {
        guard let pointer, count > 0 else { return true }
        let key64 = key.map { UInt64($0) | UInt64($0) << 32 } ?? 0
        var seen: UInt64 = 0
        var i = 0
        while i + 8 <= count {
            let word = pointer.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ key64
            if key != nil { pointer.storeBytes(of: word, toByteOffset: i, as: UInt64.self) }
            seen |= word
            i += 8
        }
        if i + 4 <= count {  // `i` is a multiple of 8, so the key lines up with a 4-byte word too
            let word = pointer.loadUnaligned(fromByteOffset: i, as: UInt32.self) ^ UInt32(truncatingIfNeeded: key64)
            if key != nil { pointer.storeBytes(of: word, toByteOffset: i, as: UInt32.self) }
            seen |= UInt64(word)
            i += 4
        }
        // After `.littleEndian`, wire key byte n sits in bits 8n…8n+7 on any host.
        let keyBytes = (key ?? 0).littleEndian
        while i < count {
            let byte = pointer.load(fromByteOffset: i, as: UInt8.self) ^ UInt8(truncatingIfNeeded: keyBytes >> (UInt32(i & 3) * 8))
            if key != nil { pointer.storeBytes(of: byte, toByteOffset: i, as: UInt8.self) }
            seen |= UInt64(byte)
            i += 1
        }
        return seen & 0x8080_8080_8080_8080 == 0
    }
}
