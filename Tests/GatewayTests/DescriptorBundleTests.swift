import Glibc
import NetIO
import Testing

/// Client sockets travel to the next instance in one bundle (one fd in systemd's store):
/// every descriptor comes back, the same open file, in order, close-on-exec.
@Suite struct DescriptorBundleTests {
    private static func pipes(_ count: Int) -> [Int32] {
        (0..<count).flatMap { _ -> [Int32] in
            var ends: [Int32] = [0, 0]
            precondition(pipe(&ends) == 0)
            return ends
        }
    }

    @Test func everyDescriptorComesBackInOrder() throws {
        let fds = Self.pipes(300)  // 600 fds: three messages
        defer { fds.forEach { close($0) } }
        let bundle = try DescriptorBundle.pack(fds)
        defer { close(bundle) }
        let back = try DescriptorBundle.unpack(bundle, max: 10_000)
        defer { back.forEach { close($0) } }
        #expect(back.count == fds.count)
        #expect(back.map { FileIdentity(fd: $0) } == fds.map { FileIdentity(fd: $0) })
        #expect(back.allSatisfy { fcntl($0, F_GETFD) & FD_CLOEXEC != 0 })
        // What a received fd does, the original does: a byte written into a pipe's copy arrives.
        #expect(write(back[1], "x", 1) == 1)
        var byte: UInt8 = 0
        #expect(read(fds[0], &byte, 1) == 1 && byte == UInt8(ascii: "x"))
        // Drained: a second unpack finds nothing.
        #expect(try DescriptorBundle.unpack(bundle, max: 10_000).isEmpty)
    }

    @Test func emptyBundleAndLimit() throws {
        let empty = try DescriptorBundle.pack([])
        #expect(try DescriptorBundle.unpack(empty, max: 10).isEmpty)
        close(empty)

        let fds = Self.pipes(5)
        defer { fds.forEach { close($0) } }
        let bundle = try DescriptorBundle.pack(fds)
        defer { close(bundle) }
        let back = try DescriptorBundle.unpack(bundle, max: 4)
        defer { back.forEach { close($0) } }
        #expect(back.map { FileIdentity(fd: $0) } == fds.prefix(4).map { FileIdentity(fd: $0) })
    }
}
