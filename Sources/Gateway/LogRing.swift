/// The last log lines in memory, for `logs.tail` when the journal cannot be read back.
///
/// Bounded by bytes as well as by lines: a count alone lets clients whose text ends up
/// in log lines pin hundreds of MB (2,000 lines of 1 MB each). One line longer than
/// `maxLineBytes` is kept cut, marked with its full size.
struct LogRing {
    struct Entry {
        let seq: UInt64
        let line: String
    }

    let maxLines: Int
    let maxBytes: Int
    let maxLineBytes: Int
    /// Live entries are `entries[head...]`; the dead prefix is dropped in batches.
    private var entries: [Entry] = []
    private var head = 0
    private(set) var bytes = 0
    private var nextSeq: UInt64 = 1

    init(maxLines: Int = 2000, maxBytes: Int = 1 << 20, maxLineBytes: Int = 8 * 1024) {
        self.maxLines = maxLines
        self.maxBytes = maxBytes
        self.maxLineBytes = maxLineBytes
    }

    var count: Int { entries.count - head }

    mutating func append(_ line: String) {
        let kept = line.utf8.count > maxLineBytes ? Self.cut(line, to: maxLineBytes) : line
        entries.append(Entry(seq: nextSeq, line: kept))
        nextSeq += 1
        bytes += kept.utf8.count
        while count > maxLines || bytes > maxBytes {
            bytes -= entries[head].line.utf8.count
            entries[head] = Entry(seq: 0, line: "")  // releases the string now
            head += 1
        }
        if head >= 256 && head * 2 >= entries.count {
            entries.removeSubrange(0..<head)
            head = 0
        }
    }

    /// Live entries, oldest first.
    var all: ArraySlice<Entry> { entries[head...] }

    /// `line` cut at a UTF-8 character boundary at or below `limit` bytes, with a marker.
    static func cut(_ line: String, to limit: Int) -> String {
        let utf8 = line.utf8
        let marker = " … [\(utf8.count) bytes, cut]"
        var end = utf8.index(utf8.startIndex, offsetBy: max(0, limit - marker.utf8.count))
        while end > utf8.startIndex && UTF8.isContinuation(utf8[end]) { end = utf8.index(before: end) }
        return String(line[..<end]) + marker
    }
}
