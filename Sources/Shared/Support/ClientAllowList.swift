import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `--allow-from CIDR[,CIDR…]`: the client addresses the worker serves. IPv4 and IPv6; an IPv4 client
/// on a dual-stack listener (`::ffff:a.b.c.d`) is matched as the IPv4 address it is.
public struct ClientAllowList: Sendable, Equatable {
    public struct Block: Sendable, Equatable, CustomStringConvertible {
        /// 4 or 16 octets, host bits zero.
        public var network: [UInt8]
        public var prefixLength: Int

        public var description: String { "\(Self.format(network))/\(prefixLength)" }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var bits = prefixLength
            for index in 0..<network.count where bits > 0 {
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if address[index] & mask != network[index] { return false }
                bits -= 8
            }
            return true
        }

        static func format(_ octets: [UInt8]) -> String {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let family = octets.count == 4 ? AF_INET : AF_INET6
            _ = octets.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public var blocks: [Block]

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// `10.0.0.0/8,192.168.1.7,2001:db8::/32`; an address alone is a single host.
    public init(parsing text: String) throws(Problem) {
        blocks = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            blocks.append(try Self.block(String(item)))
        }
    }

    private static func block(_ text: String) throws(Problem) -> Block {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        guard let address = Self.octets(host) else {
            throw Problem(description: "\"\(text)\" is not an IPv4 or IPv6 address or CIDR block")
        }
        let bits = address.count * 8
        var prefixLength = bits
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...bits).contains(length), parts[1].allSatisfy(\.isNumber) else {
                throw Problem(description: "\"\(text)\": the prefix length must be 0 to \(bits)")
            }
            prefixLength = length
        }
        let network = address.enumerated().map { index, octet in
            let remaining = prefixLength - index * 8
            return remaining >= 8 ? octet : remaining <= 0 ? 0 : octet & ~(0xFF >> UInt8(remaining))
        }
        let block = Block(network: network, prefixLength: prefixLength)
        // 10.0.0.1/8 is more likely a typo than a wish to allow all of 10/8: say so.
        guard network == address else {
            throw Problem(description: "\"\(text)\" has host bits set; did you mean \(block)?")
        }
        return block
    }

    static func octets(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    public func allows(_ peer: SocketAddress?) -> Bool {
        guard let address = peer.flatMap(Self.octets(of:)) else { return false }
        return blocks.contains { $0.contains(address) }
    }

    static func octets(of peer: SocketAddress) -> [UInt8]? {
        switch peer {
        case .v4(let address):
            var raw = address.address.sin_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .v6(let address):
            var raw = address.address.sin6_addr
            let octets = withUnsafeBytes(of: &raw) { Array($0) }
            let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
            return octets.starts(with: mappedPrefix) ? Array(octets.suffix(4)) : octets
        case .unixDomainSocket:
            return nil
        }
    }
}
