/// Numbers: integers exactly, doubles by the fast exact-power-of-ten path when
/// they fit and by the standard library's parser otherwise.
extension JSONParser {
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var cursor = index
        let negative = bytes[cursor] == UInt8(ascii: "-")
        if negative { cursor += 1 }
        guard cursor < end, isDigit(bytes[cursor]) else {
            throw expected("digit after '-'", at: cursor)
        }
        // All significant digits (integer and fraction) accumulate here; once
        // they no longer fit, the exact fast paths are off and the slow path
        // reparses the text.
        var mantissa: UInt64 = 0
        var mantissaOverflowed = false
        if bytes[cursor] == UInt8(ascii: "0") {
            cursor += 1
            if cursor < end, isDigit(bytes[cursor]) {
                throw error("leading zeros are not allowed", at: start)
            }
        } else {
            while cursor < end, isDigit(bytes[cursor]) {
                accumulate(bytes[cursor], into: &mantissa, overflowed: &mantissaOverflowed)
                cursor += 1
            }
        }
        var isInteger = true
        var decimalExponent = 0
        if cursor < end, bytes[cursor] == UInt8(ascii: ".") {
            isInteger = false
            cursor += 1
            guard cursor < end, isDigit(bytes[cursor]) else {
                throw expected("digit after decimal point", at: cursor)
            }
            while cursor < end, isDigit(bytes[cursor]) {
                accumulate(bytes[cursor], into: &mantissa, overflowed: &mantissaOverflowed)
                decimalExponent -= 1
                cursor += 1
            }
        }
        if cursor < end, bytes[cursor] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            cursor += 1
            var exponentNegative = false
            if cursor < end, bytes[cursor] == UInt8(ascii: "-") || bytes[cursor] == UInt8(ascii: "+") {
                exponentNegative = bytes[cursor] == UInt8(ascii: "-")
                cursor += 1
            }
            guard cursor < end, isDigit(bytes[cursor]) else {
                throw expected("digit in exponent", at: cursor)
            }
            var exponent = 0
            while cursor < end, isDigit(bytes[cursor]) {
                // Saturate: anything this large is out of range either way.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(bytes[cursor] - UInt8(ascii: "0")) }
                cursor += 1
            }
            decimalExponent += exponentNegative ? -exponent : exponent
        }
        index = cursor

        if isInteger, !mantissaOverflowed {
            if !negative, mantissa <= UInt64(Int64.max) { return .int(Int64(mantissa)) }
            if negative, mantissa <= Int64.min.magnitude { return .int(Int64(bitPattern: 0 &- mantissa)) }
        }
        let value: Double
        if !mantissaOverflowed, mantissa <= 1 << 53, let power = exactPowerOfTen(decimalExponent.magnitude) {
            // Clinger's fast path: both operands are exact doubles, so one
            // IEEE multiplication or division rounds correctly.
            let magnitude = decimalExponent < 0 ? Double(mantissa) / power : Double(mantissa) * power
            value = negative ? -magnitude : magnitude
        } else {
            value = slowDouble(from: start, to: cursor)
        }
        guard value.isFinite else { throw error("number out of range", at: start) }
        return .double(value)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    func accumulate(_ digit: UInt8, into mantissa: inout UInt64, overflowed: inout Bool) {
        let (times10, o1) = mantissa.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
        if o1 || o2 { overflowed = true } else { mantissa = sum }
    }

    func exactPowerOfTen(_ exponent: UInt) -> Double? {
        let powers: [Double] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ]
        return exponent < powers.count ? powers[Int(exponent)] : nil
    }

    /// Long mantissas and large exponents go through the standard library's
    /// correctly rounded, locale-independent conversion (the text has already
    /// been validated as JSON number syntax, which it accepts).
    func slowDouble(from start: Int, to stop: Int) -> Double {
        Double(makeString(from: start, to: stop)) ?? .nan
    }
}
