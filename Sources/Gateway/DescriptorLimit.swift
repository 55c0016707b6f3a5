import Glibc

/// The open-file limit, raised at start-up.
///
/// Every client is a descriptor, and the default soft limit (1024) is far below what the
/// kernel allows this process (the hard limit): at 1024 clients accept fails with EMFILE
/// while the box has room. The soft limit is a per-process choice, so it is raised to
/// the hard limit (the unit's `LimitNOFILE=` sets both; by hand, the shell's hard limit).
enum DescriptorLimit {
    /// The soft and hard limits after the raise (soft == hard unless the raise failed).
    static func raiseSoftToHard() -> (soft: UInt64, hard: UInt64) {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return (0, 0) }
        // An infinite hard limit (RLIM_INFINITY, all ones) is not a valid soft one for descriptors (nr_open caps it).
        let target = limit.rlim_max == rlim_t.max ? rlim_t(1 << 20) : limit.rlim_max
        if limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }
}
