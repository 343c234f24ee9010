import CShim
import Logging

/// The receiving end of a descriptor channel: a SOCK_SEQPACKET socketpair over which only the
/// supervisor (which made it) sends Unix stream sockets with SCM_RIGHTS. Each child runs `receive` on a
/// thread of its own; anything that is not exactly one connected Unix stream socket is closed unread.
public enum DescriptorChannel {
    /// Blocks, calling `received` with each socket, until the supervisor closes the channel.
    public static func receive(on channel: Int32, logger: Logger, _ received: (Int32) -> Void) {
        while true {
            let result = shim_recv_unix_stream_fd(channel)
            if result >= 0 {
                received(result)
                continue
            }
            switch -result {
            case EPIPE:
                return
            case EBADMSG:
                logger.error("descriptor channel: ignored a message that was not one Unix stream socket")
            default:
                logger.error("descriptor channel: receive failed", metadata: ["errno": "\(-result)"])
                return
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
