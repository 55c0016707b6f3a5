// libFuzzer target for the send ledger's loader (SendLedgerState, the part of
// Sources/Gateway/Messaging/SendLedger.swift without I/O), compiled with it by
// scripts/fuzz.sh. The input is a ledger file as a crash, a full disk or an
// editor could leave it.
//
// Invariants: loading never crashes (a corrupt `ts`, a huge number, a torn
// line); the state stays within its bounds; what compaction would write loads
// back to the same state with nothing skipped, and writes the same bytes again.

@_cdecl("LLVMFuzzerTestOneInput")
public func ledgerFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // A fixed clock and small bounds, so expiry and eviction are reachable.
    let now: Int64 = 1_800_000_000_000
    var state = SendLedgerState(ttlMs: 24 * 3600 * 1000, maxEntries: 8)
    state.load(bytes, now: now)
    precondition(state.entries.count <= 8, "more entries than maxEntries")
    precondition(state.recordCount + state.skippedOnLoad <= bytes.count, "more records than lines")
    for (key, entry) in state.entries {
        precondition(entry.key == key && !entry.live, "loaded entries are keyed by their key and not live")
        if case .conflict = state.lookup(key: key, hash: entry.hash, now: now) {
            preconditionFailure("an entry conflicts with its own hash")
        }
    }

    let (rewritten, records) = state.serialized()
    var reloaded = SendLedgerState(ttlMs: 24 * 3600 * 1000, maxEntries: 8)
    reloaded.load(rewritten, now: now)
    precondition(reloaded.skippedOnLoad == 0 && reloaded.recordCount == records, "compaction wrote what it cannot read")
    precondition(reloaded.entries == state.entries, "compaction changed the state")
    precondition(reloaded.serialized().bytes == rewritten, "compaction is not stable")
    return 0
}
