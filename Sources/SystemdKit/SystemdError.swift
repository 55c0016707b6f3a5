import Glibc

/// A failed libsystemd call: which call, and the errno it returned.
///
/// libsystemd reports failures as negative errno values; keeping the call's
/// name lets the CLI say *what* failed ("sd_bus_open_user: No such file or
/// directory") instead of a bare number.
public struct SystemdError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    /// The D-Bus error name and message, when the failure came from a bus peer.
    public let busErrorName: String?
    public let busErrorMessage: String?

    public init(call: String, errno: Int32, busErrorName: String? = nil, busErrorMessage: String? = nil) {
        self.call = call
        self.errno = errno < 0 ? -errno : errno
        self.busErrorName = busErrorName
        self.busErrorMessage = busErrorMessage
    }

    public var description: String {
        if let busErrorMessage, !busErrorMessage.isEmpty {
            return "\(call): \(busErrorMessage)"
        }
        return "\(call): \(String(cString: strerror(errno)))"
    }
}

/// Turns a libsystemd return value into a Swift error, keeping the non-negative result.
@inline(__always)
@discardableResult
func check(_ call: String, _ result: Int32) throws(SystemdError) -> Int32 {
    if result < 0 { throw SystemdError(call: call, errno: result) }
    return result
}
