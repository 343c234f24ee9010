import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A received message: its first `MessageSpool.memoryLimit` octets in memory, the rest (if any) in an
/// unnamed file. Large messages then cost the worker page cache the kernel can write back and drop,
/// not heap that fifty concurrent 40 MB messages would make 2 GB of. The header section, which the
/// v2 send inspects, is nearly always inside the in-memory part.
package struct MessageBody: Equatable, Sendable {
    package var head: ByteBuffer
    package var spooled: SpooledOctets?

    package init(head: ByteBuffer, spooled: SpooledOctets? = nil) {
        self.head = head
        self.spooled = spooled
    }

    package var readableBytes: Int { head.readableBytes + (spooled?.length ?? 0) }

    /// The message in order, for a reader that takes pieces.
    package var pieces: [MessagePiece] {
        [.bytes(head)] + (spooled.map { [.file($0)] } ?? [])
    }

    /// The whole message in memory: for tests and checks on small messages, never on the relay path.
    package func collected() throws(SpoolError) -> [UInt8] {
        var bytes = Array(head.readableBytesView)
        if let spooled {
            var offset = 0
            var block = [UInt8](repeating: 0, count: 64 * 1024)
            while offset < spooled.length {
                let count = try block.withUnsafeMutableBytes { buffer in
                    Result { () throws(SpoolError) in try spooled.read(into: buffer, at: offset) }
                }.get()
                bytes += block[..<count]
                offset += count
            }
        }
        return bytes
    }
}

package enum MessagePiece: Sendable {
    case bytes(ByteBuffer)
    case file(SpooledOctets)

    package var length: Int {
        switch self {
        case .bytes(let buffer): buffer.readableBytes
        case .file(let spooled): spooled.length
        }
    }
}

/// The first `length` octets of a spool file. The file is only ever appended to before it is
/// handed on, so a value of this type never changes what it reads.
package struct SpooledOctets: Equatable, Sendable {
    package let file: SpoolFile
    package let length: Int

    package init(file: SpoolFile, length: Int) {
        self.file = file
        self.length = length
    }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.file === rhs.file && lhs.length == rhs.length }

    /// Fills `buffer` from `offset` (short only at the end); positioned reads, so concurrent readers
    /// of one message do not disturb each other.
    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(SpoolError) -> Int {
        let wanted = min(buffer.count, length - offset)
        var done = 0
        while done < wanted {
            let count = pread(file.descriptor, buffer.baseAddress! + done, wanted - done, off_t(offset + done))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                throw SpoolError(action: "read", errno: count < 0 ? errno : EIO)
            }
            done += count
        }
        return done
    }
}

/// An unnamed file (O_TMPFILE): no other process can open it by name, and it is gone when the last
/// descriptor closes, even if the worker is killed.
package final class SpoolFile: Sendable {
    package let descriptor: CInt

    package init(descriptor: CInt) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Writes go to the page cache; they block only under writeback pressure, which also throttles
    /// the client that causes it. A hop to a thread per 64 KiB chunk would cost every large message
    /// more than it saves.
    fileprivate func append(_ buffer: ByteBuffer) throws(SpoolError) {
        var failure: CInt = 0
        buffer.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let count = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else {
                    failure = count < 0 ? errno : ENOSPC
                    return
                }
                done += count
            }
        }
        if failure != 0 { throw SpoolError(action: "write", errno: failure) }
    }
}

package struct SpoolError: Error, Equatable, CustomStringConvertible {
    package var action: String
    package var errno: CInt

    package var description: String { "cannot \(action) the message spool file: \(String(cString: strerror(errno)))" }
}

/// Where messages past `memoryLimit` octets go. `open` makes a new, empty, unnamed file.
package struct MessageSpool: Sendable {
    /// Kept in memory: every message up to this size, and the start of larger ones.
    package var memoryLimit: Int
    package var open: @Sendable () throws(SpoolError) -> SpoolFile

    package init(memoryLimit: Int = 256 * 1024, open: @escaping @Sendable () throws(SpoolError) -> SpoolFile) {
        self.memoryLimit = memoryLimit
        self.open = open
    }

    /// Files made with O_TMPFILE in `directory` (mode 0600), which must exist on a file system that
    /// supports it (ext4, xfs, btrfs, tmpfs).
    package static func unnamedFiles(in directory: String, memoryLimit: Int = 256 * 1024) -> MessageSpool {
        MessageSpool(memoryLimit: memoryLimit) { () throws(SpoolError) -> SpoolFile in
            let descriptor = Glibc.open(directory, unnamedFileFlag | O_RDWR | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw SpoolError(action: "create", errno: errno) }
            return SpoolFile(descriptor: descriptor)
        }
    }
}

/// Linux's O_TMPFILE (__O_TMPFILE | O_DIRECTORY): a composite macro, which Swift does not import.
private let unnamedFileFlag: CInt = 0o20_200_000

/// The message being received: memory first, then the spool. A spool failure drops what came so far
/// and everything after, so the message is refused at its end (452 4.3.1) instead of relayed in part.
struct MessageAccumulator {
    private(set) var head = ByteBuffer()
    private var file: SpoolFile?
    private var spooledLength = 0
    private(set) var failure: SpoolError?

    init(reserving capacity: Int = 0) { head.reserveCapacity(capacity) }

    mutating func append(_ chunk: inout ByteBuffer, spool: MessageSpool?) {
        guard failure == nil else { return }
        if file == nil, let spool {
            let room = spool.memoryLimit - head.readableBytes
            if chunk.readableBytes <= room {
                head.writeBuffer(&chunk)
                return
            }
            if room > 0 { head.writeImmutableBuffer(chunk.readSlice(length: room)!) }
            do {
                file = try spool.open()
            } catch {
                fail(error)
                return
            }
        }
        guard let file else {
            head.writeBuffer(&chunk)
            return
        }
        do {
            try file.append(chunk)
            spooledLength += chunk.readableBytes
        } catch {
            fail(error)
        }
    }

    private mutating func fail(_ error: SpoolError) {
        failure = error
        head = ByteBuffer()
        file = nil
        spooledLength = 0
    }

    var body: MessageBody {
        MessageBody(head: head, spooled: file.map { SpooledOctets(file: $0, length: spooledLength) })
    }
}
