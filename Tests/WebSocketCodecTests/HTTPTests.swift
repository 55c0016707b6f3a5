import Testing
@testable import WebSocketCodec

/// The RFC 6455 §1.2 sample request.
private let sampleRequest = Array(("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
    + "Sec-WebSocket-Version: 13\r\n\r\n").utf8)

private func parseHead(_ bytes: [UInt8], kind: HTTPHeadParser.Kind = .request, maxBytes: Int = 16 * 1024)
    -> Result<(head: HTTPHead, leftover: [UInt8])?, HTTPParseError>
{
    var parser = HTTPHeadParser(maxBytes: maxBytes, kind: kind)
    return Result { () throws(HTTPParseError) in try parser.feed(bytes) }
}

private func request(_ lines: [String]) -> HTTPHead {
    let bytes = Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    guard case .success(let parsed?) = parseHead(bytes) else { fatalError("unparsable test request") }
    return parsed.head
}

private let goodUpgrade = ["GET / HTTP/1.1", "Host: x", "Upgrade: websocket", "Connection: Upgrade",
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]

@Suite struct HTTPHeadParserTests {
    @Test func parsesSampleSplitAtEveryByte() throws {
        let trailing: [UInt8] = [0x81, 0x80, 1, 2, 3, 4]
        let input = sampleRequest + trailing
        for split in 0...input.count {
            var parser = HTTPHeadParser()
            var result = try parser.feed(Array(input[..<split]))
            if result == nil { result = try parser.feed(Array(input[split...])) }
            let parsed = try #require(result, "split \(split)")
            #expect(parsed.head.method == "GET")
            #expect(parsed.head.target == "/chat")
            #expect(parsed.head.version == "HTTP/1.1")
            #expect(parsed.head.headers.count == 6)
            #expect(parsed.head.header("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==")
            // The leftover is whatever followed the head in the feed that completed it.
            let end = sampleRequest.count
            #expect(parsed.leftover == Array(split >= end ? input[end..<split] : input[end...]))
        }
    }

    @Test func byteAtATime() throws {
        var parser = HTTPHeadParser()
        var result: (head: HTTPHead, leftover: [UInt8])?
        for (i, byte) in sampleRequest.enumerated() {
            result = try parser.feed([byte])
            #expect((result != nil) == (i == sampleRequest.count - 1))
        }
        #expect(result?.head.header("ORIGIN") == "http://example.com")
    }

    @Test func bareLineFeedsAndLeadingEmptyLines() throws {
        let parsed = try #require(try parseHead(Array("\r\n\nGET /healthz HTTP/1.0\nHost:  a  \n\n".utf8)).get())
        #expect(parsed.head.target == "/healthz")
        #expect(parsed.head.version == "HTTP/1.0")
        #expect(parsed.head.header("host") == "a")
    }

    @Test func tooLargeIs431() {
        let big = Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200)).utf8)
        #expect(throws: HTTPParseError(status: 431, reason: "request head too large")) {
            var p = HTTPHeadParser(maxBytes: 100)
            _ = try p.feed(big)
        }
        // A complete head over the limit is refused even when it arrives in one piece.
        #expect(throws: HTTPParseError.self) {
            var p = HTTPHeadParser(maxBytes: 20)
            _ = try p.feed(Array("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8))
        }
    }

    @Test(arguments: ["GET / HTTP/2.0", "GET / HTTP/0.9", "PRI * HTTP/2.0"])
    func otherMajorVersionsAre505(line: String) {
        guard case .failure(let e) = parseHead(Array((line + "\r\n\r\n").utf8)) else { Issue.record(); return }
        #expect(e.status == 505)
    }

    @Test(arguments: ["GET /  HTTP/1.1", "GET / HTTP/1.1 x", "GET /", "G(T / HTTP/1.1", "GET / HTTP/1.1\r\nHost x",
                      "GET / HTTP/1.1\r\nHost : x", "GET / HTTP/1.1\r\nA: b\r\n c", "GET / HTTP/1.1\r\nA: b\u{1}c",
                      "GET / HTTP/1.1\r\nA: b\rc", "GET / HTTPS/1.1", "GET / HTTP/1.10", "GET /\u{7F} HTTP/1.1"])
    func malformedIs400(head: String) {
        guard case .failure(let e) = parseHead(Array((head + "\r\n\r\n").utf8)) else { Issue.record("\(head)"); return }
        #expect(e.status == 400)
    }

    @Test func statusLine() throws {
        let parsed = try #require(try parseHead(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".utf8),
                                                kind: .response).get())
        #expect(parsed.head.statusCode == 101)
        #expect(parsed.head.reasonPhrase == "Switching Protocols")
        #expect(parsed.head.method == "HTTP/1.1")
        let noReason = try #require(try parseHead(Array("HTTP/1.1 404\r\n\r\n".utf8), kind: .response).get())
        #expect(noReason.head.statusCode == 404)
        #expect(throws: HTTPParseError.self) {
            var p = HTTPHeadParser(kind: .response)
            _ = try p.feed(Array("HTTP/1.1 1O1 x\r\n\r\n".utf8))
        }
    }

    @Test func tokenLists() {
        let head = request(["GET / HTTP/1.1", "Connection: keep-alive", "connection: , Upgrade ,x"])
        #expect(head.hasToken("upgrade", inHeader: "CONNECTION"))
        #expect(head.hasToken("Keep-Alive", inHeader: "connection"))
        #expect(!head.hasToken("up", inHeader: "connection"))
        #expect(head.header("connection") == "keep-alive")
    }

    @Test func responseBuilder() {
        let bytes = HTTPResponse.make(status: 200, reason: "OK", headers: [("Content-Type", "application/json")],
                                      body: Array("{\"ok\":true}".utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + "Content-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}")
        let injected = HTTPResponse.make(status: 400, reason: "Bad\r\nX: y")
        #expect(String(decoding: injected, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad  X: y\r\nContent-Length: 0\r\n"))
    }
}

@Suite struct HandshakeTests {
    @Test func rfcAcceptExample() {
        #expect(ServerHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func acceptsRFCSample() throws {
        let head = try #require(try parseHead(sampleRequest).get()).head
        guard case .accept(let response) = ServerHandshake.evaluate(head) else { Issue.record(); return }
        #expect(String(decoding: response, as: UTF8.self) == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    }

    @Test func tolerantTokenMatching() {
        var lines = goodUpgrade
        lines[2] = "Upgrade: WebSocket"
        lines[3] = "Connection: keep-alive, Upgrade"
        guard case .accept = ServerHandshake.evaluate(request(lines)) else { Issue.record(); return }
    }

    @Test func plainRequestIsNotAnUpgrade() {
        guard case .notUpgrade = ServerHandshake.evaluate(request(["GET /healthz HTTP/1.1", "Host: x"])) else {
            Issue.record(); return
        }
    }

    @Test(arguments: [
        (0, "POST / HTTP/1.1"), (0, "GET / HTTP/1.0"), (2, "Upgrade: h2c"), (3, "Connection: keep-alive"),
        (4, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"), (4, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        (4, "X-Nothing: 1"), (2, "X-Nothing: 1"),
    ])
    func badUpgradesAre400(index: Int, replacement: String) {
        var lines = goodUpgrade
        lines[index] = replacement
        guard case .reject(let status, _, let response) = ServerHandshake.evaluate(request(lines)) else {
            Issue.record("\(replacement)"); return
        }
        #expect(status == 400)
        #expect(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test(arguments: ["Sec-WebSocket-Version: 8", "X-Nothing: 1"])
    func wrongVersionIs426(replacement: String) {
        var lines = goodUpgrade
        lines[5] = replacement
        guard case .reject(426, _, let response) = ServerHandshake.evaluate(request(lines)) else { Issue.record(); return }
        #expect(String(decoding: response, as: UTF8.self).contains("\r\nSec-WebSocket-Version: 13\r\n"))
    }

    @Test func clientAndServerAgree() throws {
        let key = ClientHandshake.makeKey()
        #expect(Base64.decode(key)?.count == 16)
        #expect(key != ClientHandshake.makeKey())
        var server = HTTPHeadParser()
        let head = try #require(try server.feed(ClientHandshake.request(host: "127.0.0.1", port: 18789, path: "", key: key)))
        #expect(head.head.target == "/")
        #expect(head.head.header("host") == "127.0.0.1:18789")
        guard case .accept(let response) = ServerHandshake.evaluate(head.head) else { Issue.record(); return }
        var client = HTTPHeadParser(kind: .response)
        let reply = try #require(try client.feed(response)).head
        #expect(ClientHandshake.validate(response: reply, key: key) == nil)
        #expect(ClientHandshake.validate(response: reply, key: ClientHandshake.makeKey()) == "wrong Sec-WebSocket-Accept")
    }

    @Test func clientRejectsNon101() throws {
        var client = HTTPHeadParser(kind: .response)
        let reply = try #require(try client.feed(HTTPResponse.make(status: 404, reason: "Not Found"))).head
        #expect(ClientHandshake.validate(response: reply, key: "x") == "HTTP 404 Not Found instead of 101 Switching Protocols")
    }

    @Test func ipv6HostIsBracketed() {
        let bytes = ClientHandshake.request(host: "::1", port: 80, path: "/ws", key: "k")
        #expect(String(decoding: bytes, as: UTF8.self).contains("Host: [::1]:80\r\n"))
    }
}
