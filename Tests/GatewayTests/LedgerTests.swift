@testable import Gateway
import Glibc
import JSONCore
import Testing

/// A fresh directory per test, removed afterwards.
private final class TempDir {
    let path: String
    init() {
        var template = Array("/tmp/openclaw-ledger-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    deinit {
        for name in ["send-ledger.jsonl", "send-ledger.jsonl.tmp"] { unlink(path + "/" + name) }
        rmdir(path)
    }
    var ledger: String { path + "/send-ledger.jsonl" }

    /// Runs `steps` on a ledger that is then dropped (as a crash would leave it) and opens the file again.
    func reopen(after steps: (SendLedger) throws -> Void) throws -> SendLedger {
        try steps(SendLedger(path: ledger))
        return SendLedger(path: ledger)
    }
}

private func begin(_ l: SendLedger, _ key: String = "k") throws {
    try l.begin(key: key, hash: "h", messageId: "irc-1", channel: "irc", to: "#ops")
}

private func readFile(_ path: String) -> String {
    guard let f = fopen(path, "r") else { return "" }
    defer { fclose(f) }
    var out: [UInt8] = []
    while case let c = fgetc(f), c != EOF { out.append(UInt8(c)) }
    return String(decoding: out, as: UTF8.self)
}

private func append(_ path: String, _ text: String) {
    let f = fopen(path, "a")!
    fputs(text, f)
    fclose(f)
}

private let result: JSONValue = ["messageId": "irc-1", "channel": "irc", "to": "#ops", "deliveredAt": 1]

@Suite struct LedgerTests {
    @Test func completedSendReturnsFirstResultAfterRestart() throws {
        let reopened = try TempDir().reopen { l in
            #expect(l.lookup(key: "k", hash: "h") == .fresh(messageId: nil))
            try begin(l)
            #expect(l.lookup(key: "k", hash: "h") == .inFlight)
            try l.handOff(key: "k")
            try l.complete(key: "k", result: result)
            #expect(l.lookup(key: "k", hash: "h") == .done(result))
        }
        #expect(reopened.lookup(key: "k", hash: "h") == .done(result))
        #expect(reopened.lookup(key: "k", hash: "other") == .conflict)
    }

    @Test func beginWithoutHandoffIsSafeToSendAgainUnderTheSameMessageId() throws {
        let l = try TempDir().reopen { try begin($0) }
        #expect(l.lookup(key: "k", hash: "h") == .fresh(messageId: "irc-1"))
    }

    @Test func handoffWithoutDoneIsInDoubtAndNeverResent() throws {
        let l = try TempDir().reopen { l in
            try begin(l)
            try l.handOff(key: "k")
        }
        #expect(l.lookup(key: "k", hash: "h") == .inDoubt(messageId: "irc-1"))
        #expect(l.lookup(key: "k", hash: "x") == .conflict)
    }

    @Test func abortForgetsTheKey() throws {
        let l = try TempDir().reopen { l in
            try begin(l)
            try l.abort(key: "k")
            #expect(l.lookup(key: "k", hash: "other") == .fresh(messageId: nil))
        }
        #expect(l.lookup(key: "k", hash: "h") == .fresh(messageId: nil))
    }

    @Test func tornLastLineIsIgnoredAndTruncated() throws {
        let dir = TempDir()
        _ = try dir.reopen { l in
            try begin(l)
            try l.handOff(key: "k")
        }
        // A crash in the middle of writing the done record.
        append(dir.ledger, #"{"op":"done","key":"k","ts":5,"result":{"messageId":"ir"#)
        let l = SendLedger(path: dir.ledger)
        #expect(l.skippedOnLoad == 1)
        #expect(l.lookup(key: "k", hash: "h") == .inDoubt(messageId: "irc-1"))
        #expect(readFile(dir.ledger).hasSuffix("\n"))
        // Appends after the repair are readable.
        try l.begin(key: "k2", hash: "h2", messageId: "irc-2", channel: "irc", to: "#ops")
        try l.complete(key: "k2", result: result)
        let again = SendLedger(path: dir.ledger)
        #expect(again.skippedOnLoad == 0)
        #expect(again.lookup(key: "k2", hash: "h2") == .done(result))
    }

    @Test func corruptMiddleLineIsSkipped() throws {
        let dir = TempDir()
        append(dir.ledger, "garbage\n")
        append(dir.ledger, ##"{"op":"begin","key":"k","hash":"h","id":"irc-9","channel":"irc","to":"#ops","ts":1}"## + "\n")
        let l = SendLedger(path: dir.ledger, now: { 2 })
        #expect(l.skippedOnLoad == 1)
        #expect(l.lookup(key: "k", hash: "h") == .fresh(messageId: "irc-9"))
    }

    @Test func entriesExpireAfterTheTTL() throws {
        let dir = TempDir()
        var now: Int64 = 1_000
        let l = SendLedger(path: dir.ledger, ttlMs: 500, now: { now })
        try begin(l)
        try l.complete(key: "k", result: result)
        now = 1_400
        #expect(l.lookup(key: "k", hash: "h") == .done(result))
        now = 1_600
        #expect(l.lookup(key: "k", hash: "other") == .fresh(messageId: nil))
        // Expired entries are not loaded either.
        let reopened = SendLedger(path: dir.ledger, ttlMs: 500, now: { now })
        #expect(reopened.count == 0)
    }

    @Test func boundedAndCompacts() throws {
        let dir = TempDir()
        var now: Int64 = 0
        let l = SendLedger(path: dir.ledger, maxEntries: 20, compactAfter: 64, now: { now })
        for i in 0..<200 {
            now = Int64(i)
            try l.begin(key: "k\(i)", hash: "h", messageId: "irc-\(i)", channel: "irc", to: "#ops")
            try l.handOff(key: "k\(i)")
            try l.complete(key: "k\(i)", result: result)
        }
        #expect(l.count == 20)
        // Compaction kept the file near the live entries (2 records each), far below the 600 appended.
        #expect(l.recordCount <= 100)
        let lines = readFile(dir.ledger).split(separator: "\n").count
        #expect(lines == l.recordCount)
        let reopened = SendLedger(path: dir.ledger, maxEntries: 20, compactAfter: 64, now: { now })
        #expect(reopened.lookup(key: "k199", hash: "h") == .done(result))
        #expect(reopened.lookup(key: "k0", hash: "h") == .fresh(messageId: nil))
    }
}

@Suite struct LedgerFaultTests {
    /// A ledger that cannot open its file starts faulted instead of throwing, refuses every
    /// step with the cause, and records again once `recover()` finds the directory usable.
    @Test func faultedUntilTheDirectoryIsUsable() throws {
        let dir = TempDir()
        let sub = dir.path + "/later"
        let l = SendLedger(path: sub + "/send-ledger.jsonl")
        #expect(l.fault?.cause.contains("No such file or directory") == true)
        #expect(throws: SendLedger.LedgerError.self) { try begin(l) }
        #expect(l.lookup(key: "k", hash: "h") == .fresh(messageId: nil), "a refused begin leaves no entry behind")
        #expect(!l.recover())
        #expect(mkdir(sub, 0o700) == 0)
        defer {
            unlink(sub + "/send-ledger.jsonl")
            rmdir(sub)
        }
        #expect(l.recover() && l.fault == nil)
        try begin(l)
        try l.complete(key: "k", result: result)
        #expect(SendLedger(path: sub + "/send-ledger.jsonl").lookup(key: "k", hash: "h") == .done(result))
    }
}

@Suite struct SendValidationTests {
    @Test func namesTheMissingField() {
        func field(_ params: JSONValue) -> String? {
            do {
                _ = try SendService.parse(params)
                return nil
            } catch {
                return error.details?["field"]?.stringValue
            }
        }
        #expect(field(["to": "#ops", "message": "hi"]) == "idempotencyKey")
        #expect(field(["message": "hi", "idempotencyKey": "k"]) == "to")
        #expect(field(["to": "#ops", "idempotencyKey": "k"]) == "message")
        #expect(field(["to": "#ops", "message": 5, "idempotencyKey": "k"]) == "message")
        #expect(field(["to": "#ops", "mediaUrls": "x", "idempotencyKey": "k"]) == "mediaUrls")
        #expect(field(["to": "#ops", "mediaUrl": "https://x/y.png", "idempotencyKey": "k"]) == nil)
    }

    @Test func samePayloadSameHashDifferentPayloadDifferentHash() throws {
        let a = try SendService.parse(["to": "#ops", "message": "hi", "idempotencyKey": "k"])
        let b = try SendService.parse(["to": "#ops", "message": "hi", "idempotencyKey": "k"])
        let c = try SendService.parse(["to": "#ops", "message": "hi!", "idempotencyKey": "k"])
        #expect(a.hash == b.hash)
        #expect(a.hash != c.hash)
        let media = try SendService.parse(["to": "#ops", "message": "see", "mediaUrls": ["https://x/a.png"], "idempotencyKey": "k"])
        #expect(media.text == "see\nhttps://x/a.png")
    }
}
