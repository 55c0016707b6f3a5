import CSystemd
import Glibc

/// Tells the service manager about the daemon's lifecycle (`Type=notify`) and feeds its watchdog.
///
/// Everything goes through `sd_notify`, which already handles abstract (`@`) and
/// path `NOTIFY_SOCKET`s; hand-rolled datagram code is a classic source of bugs.
/// Sending never throws from the lifecycle helpers: a daemon must keep serving
/// when the manager is gone, and outside systemd there is simply nobody to tell.
public enum ServiceNotifier {
    /// sd_notify(0, …); returns false when there is no NOTIFY_SOCKET (not an error: not run by
    /// systemd) and also when sending failed — use `send(_:)` to see why.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        (try? send(state)) ?? false
    }

    /// Like `notify(_:)`, but a failed send is an error, for callers that want to log it.
    /// Returns false only when there is no NOTIFY_SOCKET.
    @discardableResult
    public static func send(_ state: String) throws(SystemdError) -> Bool {
        let result = state.withCString { sd_notify(0, $0) }
        return try check("sd_notify", result) > 0
    }

    public static func ready(status: String) {
        notify("READY=1\nSTATUS=\(statusValue(status))")
    }

    public static func status(_ text: String) {
        notify("STATUS=\(statusValue(text))")
    }

    public static func stopping(status: String) {
        notify("STOPPING=1\nSTATUS=\(statusValue(status))")
    }

    /// sd_notify(3) requires MONOTONIC_USEC with RELOADING=1: the manager uses it to tell this
    /// reload from a stale notification. Send `ready(status:)` again when the reload is done.
    public static func reloading(status: String) {
        notify("RELOADING=1\nSTATUS=\(statusValue(status))\nMONOTONIC_USEC=\(monotonicMicroseconds())")
    }

    public static func watchdogPing() {
        notify("WATCHDOG=1")
    }

    /// sd_watchdog_enabled(0, &usec): the interval when the watchdog is ours (WATCHDOG_PID absent
    /// or ours), else nil. Ping at half of it, from the loop whose liveness it should prove.
    public static func watchdogInterval() -> UInt64? {
        var usec: UInt64 = 0
        return sd_watchdog_enabled(0, &usec) > 0 ? usec : nil
    }

    /// The notify protocol is newline-separated assignments: a newline in a status would
    /// inject another assignment (e.g. a forged READY=1).
    static func statusValue(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
