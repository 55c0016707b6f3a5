// libFuzzer target for the restart hand-over's state decoder (HandoverDecoder and the v1
// reader, Sources/Gateway/Handover/), compiled with them by scripts/fuzz.sh. The input is
// a state file as a crash, a damaged memfd or a foreign writer could leave it.
//
// Invariants: decoding never crashes and stays within its limits; the result does not
// depend on how the bytes are split; whatever decodes re-encodes to bytes that decode to
// the same state (and to the very same bytes: v1 has one encoding).

@_cdecl("LLVMFuzzerTestOneInput")
public func handoverFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Small limits, so that each is reachable.
    let limits = HandoverLimits(maxConnections: 8, maxRecordBytes: 4096, maxStringBytes: 64, maxScopes: 4)
    func decode(_ chunks: [ArraySlice<UInt8>]) -> Result<HandoverState, HandoverFormatError> {
        var decoder = HandoverDecoder(limits: limits)
        for chunk in chunks { decoder.feed(Array(chunk)) }
        return Result { () throws(HandoverFormatError) in try decoder.finish() }
    }
    let whole = decode([bytes[...]])
    let split = bytes.count / 3
    let pieces = decode([bytes[..<split], bytes[split...]])
    precondition(whole == pieces, "the result depends on the split")
    guard case .success(let state) = whole else { return 0 }
    precondition(state.connections.count <= 8, "more connections than maxConnections")
    let again = state.encoded()
    precondition(decode([again[...]]) == .success(state), "re-encoded state reads differently")
    precondition(again == bytes, "v1 has one encoding")
    return 0
}
