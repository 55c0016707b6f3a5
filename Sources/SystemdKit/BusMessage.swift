import CSystemd
import Glibc

/// One decoded D-Bus value. Replies are decoded whole into these, so callers
/// never touch a message cursor and any property signature (`a(sasbttttuii)`
/// for ExecStart, `a(ss)` for Listen) is read by the same code.
enum BusValue: Equatable, Sendable {
    case bool(Bool)
    /// Every integer type (y n q i u x), widened; `t` values above Int64.max
    /// do not occur in the properties read here (USEC_INFINITY is mapped to nil by callers).
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    /// Strings, object paths and signatures.
    case string(String)
    case array([BusValue])
    /// Structs and dict entries.
    case tuple([BusValue])

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var array: [BusValue]? { if case .array(let a) = self { return a } else { return nil } }
    var tuple: [BusValue]? { if case .tuple(let t) = self { return t } else { return nil } }
    var int64: Int64? {
        switch self {
        case .int(let i): return i
        case .uint(let u): return u <= UInt64(Int64.max) ? Int64(u) : nil
        default: return nil
        }
    }
    var uint64: UInt64? {
        switch self {
        case .uint(let u): return u
        case .int(let i): return i >= 0 ? UInt64(i) : nil
        default: return nil
        }
    }
    var strings: [String]? { array?.compactMap(\.string) }

    /// An `a{sv}` read as a dictionary (the shape of Properties.GetAll).
    var dictionary: [String: BusValue] {
        var out: [String: BusValue] = [:]
        for entry in array ?? [] {
            if let pair = entry.tuple, pair.count == 2, let key = pair[0].string { out[key] = pair[1] }
        }
        return out
    }

    /// Decodes every remaining top-level value of a message.
    static func readAll(_ message: OpaquePointer, call: String) throws(SystemdError) -> [BusValue] {
        var values: [BusValue] = []
        while let value = try read(message, call: call) { values.append(value) }
        return values
    }

    /// Reads the next value at the cursor, or nil at the end of the current container.
    /// Variants are unwrapped: a property's value is what it holds.
    private static func read(_ m: OpaquePointer, call: String) throws(SystemdError) -> BusValue? {
        var type: CChar = 0
        var contents: UnsafePointer<CChar>?
        guard try check(call, sd_bus_message_peek_type(m, &type, &contents)) > 0 else { return nil }
        switch UInt8(bitPattern: type) {
        case UInt8(ascii: "a"), UInt8(ascii: "r"), UInt8(ascii: "e"), UInt8(ascii: "v"):
            try check(call, sd_bus_message_enter_container(m, type, contents))
            var items: [BusValue] = []
            while let item = try read(m, call: call) { items.append(item) }
            try check(call, sd_bus_message_exit_container(m))
            switch UInt8(bitPattern: type) {
            case UInt8(ascii: "a"): return .array(items)
            case UInt8(ascii: "v"): return items.first ?? .tuple([])
            default: return .tuple(items)
            }
        case UInt8(ascii: "s"), UInt8(ascii: "o"), UInt8(ascii: "g"):
            var p: UnsafePointer<CChar>?
            try check(call, sd_bus_message_read_basic(m, type, &p))
            return .string(p.map { String(cString: $0) } ?? "")
        case UInt8(ascii: "b"):
            return .bool(try readBasic(m, type, Int32.self, call) != 0)
        case UInt8(ascii: "y"): return .int(Int64(try readBasic(m, type, UInt8.self, call)))
        case UInt8(ascii: "n"): return .int(Int64(try readBasic(m, type, Int16.self, call)))
        case UInt8(ascii: "q"): return .int(Int64(try readBasic(m, type, UInt16.self, call)))
        case UInt8(ascii: "i"), UInt8(ascii: "h"): return .int(Int64(try readBasic(m, type, Int32.self, call)))
        case UInt8(ascii: "u"): return .int(Int64(try readBasic(m, type, UInt32.self, call)))
        case UInt8(ascii: "x"): return .int(try readBasic(m, type, Int64.self, call))
        case UInt8(ascii: "t"): return .uint(try readBasic(m, type, UInt64.self, call))
        case UInt8(ascii: "d"): return .double(try readBasic(m, type, Double.self, call))
        default:
            throw SystemdError(call: call, errno: EBADMSG)
        }
    }

    private static func readBasic<T: BitwiseCopyable>(
        _ m: OpaquePointer, _ type: CChar, _: T.Type, _ call: String
    ) throws(SystemdError) -> T {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        try check(call, sd_bus_message_read_basic(m, type, raw))
        return raw.load(as: T.self)
    }
}

/// A method-call argument: the few D-Bus shapes systemd1 and login1 need.
enum BusArgument {
    case string(String)
    case objectPath(String)
    case bool(Bool)
    case uint32(UInt32)
    case int32(Int32)
    case strings([String])

    func append(to m: OpaquePointer) throws(SystemdError) {
        let call = "sd_bus_message_append_basic"
        switch self {
        case .string(let s):
            try check(call, s.withCString { sd_bus_message_append_basic(m, Self.type("s"), $0) })
        case .objectPath(let s):
            try check(call, s.withCString { sd_bus_message_append_basic(m, Self.type("o"), $0) })
        case .bool(let b):
            var v: Int32 = b ? 1 : 0
            try check(call, sd_bus_message_append_basic(m, Self.type("b"), &v))
        case .uint32(let u):
            var v = u
            try check(call, sd_bus_message_append_basic(m, Self.type("u"), &v))
        case .int32(let i):
            var v = i
            try check(call, sd_bus_message_append_basic(m, Self.type("i"), &v))
        case .strings(let list):
            try check("sd_bus_message_open_container", sd_bus_message_open_container(m, Self.type("a"), "s"))
            for s in list { try BusArgument.string(s).append(to: m) }
            try check("sd_bus_message_close_container", sd_bus_message_close_container(m))
        }
    }

    private static func type(_ c: Unicode.Scalar) -> CChar { CChar(bitPattern: UInt8(c.value)) }
}
