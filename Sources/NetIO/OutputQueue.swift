import Glibc

/// The bytes a `StreamChannel` has queued for its socket, in one buffer it owns.
///
/// Every answer passes through here, so appending is one capacity check and one copy, and
/// emptying is two stores: an `[UInt8]` paid a uniqueness check per append, a generic
/// `replaceSubrange` to empty it, and retains around each use. `[start, end)` is unsent;
/// `[0, start)` was sent and is dropped when the buffer fills up or `dropSentPrefix` runs.
/// Pointers never leave this type.
struct OutputQueue: ~Copyable {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var start = 0
    private var end = 0

    init() {}

    deinit { storage?.deallocate() }

    /// Bytes not yet written.
    var count: Int { end &- start }

    /// Bytes held, the sent prefix included (what the queue costs in memory).
    var held: Int { end }

    mutating func append(_ bytes: Span<UInt8>) {
        bytes.withUnsafeBytes { append($0) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (storage.unsafelyUnwrapped + end).copyMemory(from: source, byteCount: bytes.count)
        end &+= bytes.count
    }

    /// Room for `count` more bytes after `end`. A sent prefix of at least half the buffer is
    /// dropped in place (between two such moves at least half a buffer was appended, so the
    /// copying stays amortised O(1) per byte); otherwise the buffer grows geometrically and
    /// the new one takes the unsent bytes only.
    private mutating func reserve(_ count: Int) {
        guard capacity &- end < count else { return }
        let unsent = self.count
        if let storage, unsent &+ count <= capacity, start >= capacity / 2 {
            storage.copyMemory(from: storage + start, byteCount: unsent)  // regions may overlap: a memmove
        } else {
            let grownCapacity = max(unsent + count, 2 * capacity)
            let grown = UnsafeMutableRawPointer.allocate(byteCount: grownCapacity, alignment: 16)
            if let storage {
                grown.copyMemory(from: storage + start, byteCount: unsent)
                storage.deallocate()
            }
            storage = grown
            capacity = grownCapacity
        }
        start = 0
        end = unsent
    }

    /// One `write(2)` of the unsent bytes; what the kernel took is no longer queued.
    /// Returns what `write` returned (errno is left for the caller).
    mutating func write(to fd: Int32) -> Int {
        guard let storage, start < end else { return 0 }
        let n = Glibc.write(fd, storage + start, end &- start)
        if n > 0 { start &+= n }
        return n
    }

    /// Puts `bytes` ahead of everything queued (a previous owner's unsent output).
    mutating func prepend(_ bytes: [UInt8]) {
        var joined = OutputQueue()
        bytes.withUnsafeBytes { joined.append($0) }
        if let storage { joined.append(UnsafeRawBufferPointer(start: storage + start, count: count)) }
        self = joined
    }

    /// The unsent bytes as an array (for a hand-over).
    var unsent: [UInt8] {
        guard let storage else { return [] }
        return Array(UnsafeRawBufferPointer(start: storage + start, count: count))
    }

    /// Moves the unsent bytes to the front once the sent prefix is at least 64 KiB and half
    /// of what is held: a reader that keeps up but never quite empties the queue would
    /// otherwise pin every byte ever sent.
    mutating func dropSentPrefix() {
        guard let storage, start >= 64 * 1024, start * 2 >= end else { return }
        let unsent = count
        storage.copyMemory(from: storage + start, byteCount: unsent)
        start = 0
        end = unsent
    }

    /// Empties the queue, keeping its buffer when it holds at most `keptCapacity` bytes, so
    /// an idle connection stays small.
    mutating func removeAll(keepingUpTo keptCapacity: Int) {
        start = 0
        end = 0
        if capacity > keptCapacity {
            storage?.deallocate()
            storage = nil
            capacity = 0
        }
    }
}
