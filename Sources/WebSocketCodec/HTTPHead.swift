/// A parsed HTTP/1.x head.
///
/// Requests fill `method`, `target` and `version` as expected. Responses (parsed
/// with `HTTPHeadParser(kind: .response)`) reuse the same three fields so both
/// roles share one type: `method` holds the protocol version ("HTTP/1.1"),
/// `target` the status code ("101") and `version` the reason phrase; prefer
/// `statusCode` and `reasonPhrase`, which say what they mean.
public struct HTTPHead: Sendable {
    public var method: String
    public var target: String
    public var version: String
    public var headers: [(name: String, value: String)]

    public init(method: String, target: String, version: String, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The first header with this name (case-insensitive), value trimmed of surrounding whitespace.
    public func header(_ name: String) -> String? {
        for header in headers where asciiCaseInsensitiveEquals(header.name.utf8, name.utf8) { return header.value }
        return nil
    }

    /// Whether any header with this name has `token` in its comma-separated list
    /// (case-insensitive), as `Connection: keep-alive, Upgrade` needs. Compared in
    /// place, item by item: every WebSocket upgrade asks this twice.
    public func hasToken(_ token: String, inHeader name: String) -> Bool {
        for header in headers where asciiCaseInsensitiveEquals(header.name.utf8, name.utf8) {
            let value = header.value.utf8
            var start = value.startIndex
            while true {
                let end = value[start...].firstIndex(of: UInt8(ascii: ",")) ?? value.endIndex
                var item = value[start..<end]
                while let first = item.first, first == 0x20 || first == 0x09 { item = item.dropFirst() }
                while let last = item.last, last == 0x20 || last == 0x09 { item = item.dropLast() }
                if asciiCaseInsensitiveEquals(item, token.utf8) { return true }
                guard end < value.endIndex else { break }
                start = value.index(after: end)
            }
        }
        return false
    }

    /// The status code of a response head, nil for a request head.
    public var statusCode: Int? { method.hasPrefix("HTTP/") ? Int(target) : nil }

    /// The reason phrase of a response head.
    public var reasonPhrase: String { version }

    /// The HTTP minor version of a request ("HTTP/1.1" → 1), nil when not HTTP/1.x.
    var minorVersion: Int? {
        let v = Array((statusCode == nil ? version : method).utf8)
        guard v.count == 8, v[0..<7].elementsEqual("HTTP/1.".utf8), isDigit(v[7]) else { return nil }
        return Int(v[7] - UInt8(ascii: "0"))
    }
}

/// Why a head was refused, with the status to answer: 400 malformed, 431 too
/// large, 505 not HTTP/1.x.
public struct HTTPParseError: Error, Sendable, Equatable {
    public let status: Int
    public let reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// Incremental HTTP/1.x head parser: feed bytes as they arrive; the head comes
/// back once the blank line is seen, with whatever followed it (the client may
/// send its first WebSocket frame right behind the upgrade request).
///
/// Accepts CRLF or bare LF line ends and ignores empty lines before the start
/// line (RFC 9112 §2.2). Refuses obsolete line folding, whitespace before the
/// colon and control characters, which are request-smuggling vectors. After a
/// head is returned the parser starts over.
public struct HTTPHeadParser: Sendable {
    public enum Kind: Sendable {
        /// `GET /path HTTP/1.1` (server role).
        case request
        /// `HTTP/1.1 101 Switching Protocols` (client role).
        case response
    }

    public let maxBytes: Int
    public let kind: Kind
    private var buffer: [UInt8] = []
    /// Bytes already searched for the blank line, so each byte is scanned once.
    private var scanned = 0

    public init(maxBytes: Int = 16 * 1024, kind: Kind = .request) {
        self.maxBytes = maxBytes
        self.kind = kind
    }

    /// The bytes of a head still incomplete: fed to a fresh parser, they put it in this one's state
    /// (how a connection moves to another process in the middle of its request).
    public var pendingInput: [UInt8] { buffer }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> (head: HTTPHead, leftover: [UInt8])? {
        var result: Result<(head: HTTPHead, leftover: [UInt8])?, HTTPParseError> = .success(nil)
        bytes.withUnsafeBytes { raw in result = Result { () throws(HTTPParseError) in try feed(raw) } }
        return try result.get()
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> (head: HTTPHead, leftover: [UInt8])? {
        var input = bytes[...]
        if buffer.isEmpty {
            input = input.drop { $0 == 0x0D || $0 == 0x0A }
        }
        buffer.append(contentsOf: input)
        guard let end = findEnd() else {
            if buffer.count > maxBytes { throw HTTPParseError(status: 431, reason: "request head too large") }
            return nil
        }
        guard end <= maxBytes else { throw HTTPParseError(status: 431, reason: "request head too large") }
        let head = try parse(buffer[..<end])
        let leftover = Array(buffer[end...])
        buffer = []
        scanned = 0
        return (head, leftover)
    }

    /// Index just past the blank line that ends the head.
    private mutating func findEnd() -> Int? {
        var i = scanned
        defer { scanned = buffer.count }
        while i < buffer.count {
            if buffer[i] == 0x0A {
                if i >= 1 && buffer[i - 1] == 0x0A { return i + 1 }
                if i >= 2 && buffer[i - 1] == 0x0D && buffer[i - 2] == 0x0A { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    private func parse(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPHead {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first else { throw bad("empty head") }

        var head = try kind == .request ? parseRequestLine(first) : parseStatusLine(first)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw bad("header line without colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenChar) else {
                throw bad(line.first == 0x20 || line.first == 0x09 ? "obsolete header line folding" : "invalid header name")
            }
            let value = line[(colon + 1)...].drop { $0 == 0x20 || $0 == 0x09 }
            let trimmed = value.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
            guard value.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else {
                throw bad("control character in header value")
            }
            head.headers.append((String(decoding: name, as: UTF8.self), String(decoding: trimmed, as: UTF8.self)))
        }
        return head
    }

    private func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPHead {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw bad("malformed request line") }
        guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenChar) else { throw bad("invalid method") }
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { throw bad("invalid request target") }
        let version = try parseVersion(parts[2])
        return HTTPHead(method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self),
                        version: version)
    }

    private func parseStatusLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPHead {
        let parts = line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { throw bad("malformed status line") }
        let version = try parseVersion(parts[0])
        guard parts[1].count == 3, parts[1].allSatisfy(isDigit) else { throw bad("invalid status code") }
        let reason = parts.count == 3 ? parts[2] : []
        guard reason.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else { throw bad("invalid reason phrase") }
        return HTTPHead(method: version, target: String(decoding: parts[1], as: UTF8.self),
                        version: String(decoding: reason, as: UTF8.self))
    }

    private func parseVersion(_ v: ArraySlice<UInt8>) throws(HTTPParseError) -> String {
        guard v.count == 8, v.prefix(5).elementsEqual("HTTP/".utf8), isDigit(v[v.startIndex + 5]),
              v[v.startIndex + 6] == UInt8(ascii: "."), isDigit(v[v.startIndex + 7])
        else { throw bad("malformed HTTP version") }
        guard v[v.startIndex + 5] == UInt8(ascii: "1") else {
            throw HTTPParseError(status: 505, reason: "HTTP version not supported")
        }
        return String(decoding: v, as: UTF8.self)
    }

    private func bad(_ reason: String) -> HTTPParseError { HTTPParseError(status: 400, reason: reason) }
}

/// Builds complete HTTP/1.1 responses for the non-WebSocket answers on the
/// gateway port (/healthz, 404, refused upgrades).
public enum HTTPResponse {
    /// Adds `Content-Length` and `Connection: close`: every plain HTTP answer
    /// ends the connection, so there is no keep-alive state to manage. CR and LF
    /// in the reason or header fields are replaced so callers cannot split the
    /// response by accident.
    public static func make(status: Int, reason: String, headers: [(String, String)] = [], body: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.count)
        out.append(contentsOf: "HTTP/1.1 \(status) ".utf8)
        appendSanitized(reason, to: &out)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            appendSanitized(name, to: &out)
            out.append(contentsOf: ": ".utf8)
            appendSanitized(value, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        out.append(contentsOf: body)
        return out
    }

    private static func appendSanitized(_ s: String, to out: inout [UInt8]) {
        for byte in s.utf8 { out.append(byte == 0x0D || byte == 0x0A ? 0x20 : byte) }
    }
}

@inline(__always)
func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

/// RFC 9110 tchar.
@inline(__always)
func isTokenChar(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

/// Header names and tokens compare ASCII case-insensitively (RFC 9110 §5.1), byte by byte
/// over whatever views the caller holds, without building strings.
func asciiCaseInsensitiveEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
where A.Element == UInt8, B.Element == UInt8 {
    a.count == b.count && a.elementsEqual(b) { asciiLower($0) == asciiLower($1) }
}

@inline(__always)
private func asciiLower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
