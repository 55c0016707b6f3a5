import CLinux
import Glibc
import JSONCore
import NetIO
import SystemdKit

/// An agent run as a transient systemd service, started over sd-bus on the
/// manager that runs the gateway (`StartTransientUnit`).
///
/// The unit gets its own sandbox (no `MemoryDenyWriteExecute=`, so JIT
/// runtimes such as Node live in it), limits (`MemoryMax=`, `CPUQuota=`,
/// `RuntimeMaxSec=`), its own cgroup (stopping it ends everything the backend
/// started, `setsid` or not) and its own journal stream for stderr. Its stdin
/// and stdout are pipes of ours handed over with the call
/// (`StandardInputFileDescriptor=`/`StandardOutputFileDescriptor=`): stdout is
/// the reply. `RemainAfterExit=` keeps the unit, with its counters, after the
/// backend exits: the gateway polls its state (a local round trip, every
/// `pollMs`), reads the exit status, CPU time and peak memory, then stops it
/// (which kills whatever it left behind) or resets it when it failed, so the
/// manager forgets it.
final class TransientUnitProcess: AgentProcess {
    static let pollMs: Int64 = 100

    let unitName: String?
    private let name: String
    private let manager: SystemdManager
    private unowned let loop: EventLoop
    private let log: GatewayLog
    let pipes: AgentPipes
    private(set) var exitStatus: Int32?
    var onExit: ((Int32) -> Void)?
    private var pollTimer: TimerID?
    private var lastState: TransientServiceState?
    /// The highest `MemoryCurrent` seen, for managers and kernels that keep no peak.
    private var sampledPeak: UInt64 = 0
    private var cgroupPeak: UInt64?
    /// Without cgroup accounting (a cgroup v1 hierarchy, an undelegated controller) the
    /// manager reports no counters: the main process's own, sampled from /proc, stand in.
    private var processSample: ProcessSample?

    var label: String { "unit \(name)" }

    init(loop: EventLoop, log: GatewayLog, manager: SystemdManager, name: String,
         properties: [(String, UnitPropertyValue)]) throws(AgentLauncher.LaunchError) {
        self.loop = loop
        self.log = log
        self.manager = manager
        self.name = name
        unitName = name
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1]
        guard clinux_pipe_cloexec(&inPipe) == 0, clinux_pipe_cloexec(&outPipe) == 0 else {
            let e = SystemCallError("pipe2")
            for fd in inPipe + outPipe where fd >= 0 { close(fd) }
            throw .system(e)
        }
        // The manager gets duplicates of the backend's ends; ours of them must go or EOF never comes.
        defer { close(inPipe[0]); close(outPipe[1]) }
        do throws(SystemdError) {
            try manager.startTransientUnit(name, properties: properties + [
                ("StandardInputFileDescriptor", .fd(inPipe[0])),
                ("StandardOutputFileDescriptor", .fd(outPipe[1])),
            ])
        } catch {
            close(inPipe[1]); close(outPipe[0])
            throw .manager(error)
        }
        do throws(SystemCallError) {
            pipes = try AgentPipes(loop: loop, stdin: inPipe[1], stdout: outPipe[0])
        } catch {
            close(outPipe[0])
            try? manager.killUnit(name, signal: SIGKILL)
            throw .system(error)
        }
        pollTimer = loop.scheduleRepeating(everyMs: Self.pollMs) { [unowned self] in self.poll() }
    }

    private func poll() {
        guard exitStatus == nil else { return }
        let state: TransientServiceState
        do {
            state = try manager.transientServiceState(name)
        } catch {
            // Gone already (stopped and collected): it ended; what we saw last is what we report.
            ended(code: lastState?.execMainCode ?? 2, status: lastState?.execMainStatus ?? SIGKILL)
            return
        }
        lastState = state
        sampledPeak = max(sampledPeak, state.memoryCurrentBytes ?? 0)
        if let peak = readCgroupPeak(state.controlGroup) { cgroupPeak = peak }
        if state.cpuUsageNSec == nil, state.mainPID > 0, let sample = ProcessSample(pid: state.mainPID) { processSample = sample }
        guard state.mainExited else { return }
        // Leftovers (a daemonized child) die with the unit; a failed unit is reset so the manager forgets it.
        if state.activeState == "failed" {
            try? manager.resetFailedUnit(name)
        } else if state.activeState != "inactive" {
            try? manager.stopUnitNoWait(name)
        }
        ended(code: state.execMainCode, status: state.execMainStatus)
    }

    /// `code` is the `CLD_*` of the main process; the status becomes a waitpid-style value.
    private func ended(code: Int32, status: Int32) {
        if let t = pollTimer { loop.cancel(t); pollTimer = nil }
        let wait: Int32 = code == 1 ? (status & 0xff) << 8 : (status & 0x7f)
        exitStatus = wait
        onExit?(wait)
    }

    /// `memory.peak` of the unit's cgroup (kernel 5.19+), for managers older than `MemoryPeak` (systemd 256).
    private func readCgroupPeak(_ group: String) -> UInt64? {
        guard !group.isEmpty, let bytes = try? DurableFile.read("/sys/fs/cgroup" + group + "/memory.peak") else { return nil }
        return UInt64(String(decoding: bytes.filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }

    func usage() -> JSONValue? {
        guard let s = lastState else { return nil }
        var o = JSONObject()
        if let cpu = s.cpuUsageNSec {
            o["scope"] = "unit"
            o["cpuUsageNSec"] = .int(Int64(clamping: cpu))
            if let peak = s.memoryPeakBytes ?? cgroupPeak ?? (sampledPeak > 0 ? sampledPeak : nil) {
                o["memoryPeakBytes"] = .int(Int64(clamping: peak))
            }
        } else if let sample = processSample {
            o["scope"] = "process"
            o["cpuUsageNSec"] = .int(sample.cpuNSec)
            o["memoryPeakBytes"] = .int(sample.peakRSSBytes)
        }
        return .object(o)
    }

    /// The live counters of a running unit, for `status`.
    func liveUsage() -> JSONValue? {
        if exitStatus == nil, let state = try? manager.transientServiceState(name) { lastState = state }
        return usage()
    }

    func requestStop() {
        do { try manager.stopUnitNoWait(name) } catch { log.warning("agent unit \(name): stop failed: \(error)") }
    }

    func kill() {
        do { try manager.killUnit(name, signal: SIGKILL) } catch { log.warning("agent unit \(name): kill failed: \(error)") }
    }

    func terminate() {
        closePipes()
        if let t = pollTimer { loop.cancel(t); pollTimer = nil }
        guard exitStatus == nil else { return }
        try? manager.killUnit(name, signal: SIGKILL)
        try? manager.stopUnitNoWait(name)
        exitStatus = SIGKILL
    }
}

/// A process's CPU time and peak resident memory, read from /proc (`stat` fields
/// 14–15, `status` VmHWM): what is known of a run whose unit has no accounting.
struct ProcessSample {
    var cpuNSec: Int64
    var peakRSSBytes: Int64

    init?(pid: Int32) {
        guard let stat = try? DurableFile.read("/proc/\(pid)/stat"),
              let status = try? DurableFile.read("/proc/\(pid)/status"),
              let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After "pid (comm) ": field 3 is state, so utime and stime (14, 15) are at offsets 11 and 12.
        let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count > 12, let utime = Int64(fields[11]), let stime = Int64(fields[12]) else { return nil }
        let ticks = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        cpuNSec = (utime + stime) * (1_000_000_000 / ticks)
        let text = String(decoding: status, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int64(line.dropFirst(6).filter { $0.isNumber }) else { return nil }
        peakRSSBytes = kb * 1024
    }
}
