/// A WebSocket close status code (RFC 6455 §7.4).
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = Self(1000)
    public static let goingAway = Self(1001)
    public static let protocolError = Self(1002)
    public static let unsupportedData = Self(1003)
    public static let invalidPayload = Self(1007)
    public static let policyViolation = Self(1008)
    public static let messageTooBig = Self(1009)
    public static let internalError = Self(1011)
    public static let serviceRestart = Self(1012)
    public static let tryAgainLater = Self(1013)

    /// Whether the code may appear on the wire: the registered codes except 1004
    /// (reserved) and 1005/1006/1015 (local-only markers), or the application
    /// range 3000–4999. A received close frame carrying anything else is a
    /// protocol error.
    public var isSendable: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}

/// A violation of RFC 6455 by the peer, carrying the one close code to answer it with.
public struct WebSocketProtocolError: Error, Sendable, Equatable {
    public let closeCode: WebSocketCloseCode
    public let reason: String

    public init(_ closeCode: WebSocketCloseCode, _ reason: String) {
        self.closeCode = closeCode
        self.reason = reason
    }
}
