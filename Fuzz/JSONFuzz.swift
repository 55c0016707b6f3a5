// libFuzzer target for JSONCore. Build and run from the package root:
//   swiftc -O -sanitize=fuzzer,address -parse-as-library \
//       Sources/JSONCore/*.swift Fuzz/JSONFuzz.swift -o /tmp/jsonfuzz
//   /tmp/jsonfuzz -max_total_time=60 -max_len=4096
//
// Invariants: parsing never crashes; whatever parses serializes to JSON that
// parses back to an equal value and re-serializes to the same bytes (compact
// and pretty); an error always points inside the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let value: JSONValue
    do {
        value = try JSONValue.parse(input, maxDepth: 64)
    } catch {
        guard error.offset >= 0, error.offset <= size, error.line >= 1, error.column >= 1 else {
            fatalError("error outside the input: \(error) (size \(size))")
        }
        return 0
    }
    let compact = value.serialized()
    do {
        let reparsed = try JSONValue.parse(compact, maxDepth: 64)
        guard reparsed == value else { fatalError("round trip changed the value: \(value) → \(reparsed)") }
        guard reparsed.serialized() == compact else { fatalError("serialization is not stable for \(value)") }
        guard try JSONValue.parse(value.prettyPrinted(), maxDepth: 64) == value else {
            fatalError("pretty-printed form changed the value: \(value)")
        }
    } catch {
        fatalError("own output refused: \(error) in \(String(decoding: compact, as: UTF8.self))")
    }
    return 0
}
