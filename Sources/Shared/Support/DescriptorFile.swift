#if canImport(Glibc)
import Glibc
#endif

/// A whole small file read through an open descriptor from offset 0 (pread, so the descriptor can be
/// read again later), bounded: the files the supervisor opens for a child that may not open them.
public enum DescriptorFile {
    public enum Problem: Error, CustomStringConvertible {
        case io(String)
        case tooLarge(limit: Int)

        public var description: String {
            switch self {
            case .io(let detail): detail
            case .tooLarge(let limit): "larger than \(limit / 1024) KiB"
            }
        }
    }

    public static func readAll(_ fd: Int32, limit: Int) throws(Problem) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(String(cString: strerror(errno)))
            }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= limit else { throw .tooLarge(limit: limit) }
        }
    }
}
