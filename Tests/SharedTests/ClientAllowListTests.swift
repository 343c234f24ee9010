import NIOCore
import Shared
import Testing

/// `--allow-from`: CIDR blocks of both families, an IPv4 client on a dual-stack socket, typos refused.
struct ClientAllowListTests {
    static func peer(_ ip: String) -> SocketAddress { try! SocketAddress(ipAddress: ip, port: 2500) }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false),
        ("192.168.1.7", "192.168.1.7", true), ("192.168.1.7", "192.168.1.8", false),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.0", false),
        ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "::1", false),
        ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
        ("::1", "::1", true), ("::/0", "127.0.0.1", false),
        ("127.0.0.0/8", "::ffff:127.0.0.1", true), ("10.0.0.0/8,::1", "::1", true),
        ("10.0.0.0/31", "10.0.0.1", true), ("10.0.0.0/31", "10.0.0.2", false),
    ])
    func membership(_ list: String, _ address: String, _ allowed: Bool) throws {
        #expect(try ClientAllowList(parsing: list).allows(Self.peer(address)) == allowed)
    }

    @Test(arguments: [
        ("10.0.0.1/8", "did you mean 10.0.0.0/8?"), ("10.0.0.0/33", "0 to 32"), ("::/129", "0 to 128"),
        ("example.com", "not an IPv4 or IPv6"), ("", "not an IPv4"), ("10.0.0.0/8,", "not an IPv4"), ("10.0.0.0/+8", "prefix"),
    ])
    func badListsNameTheProblem(_ list: String, _ named: String) {
        #expect {
            try ClientAllowList(parsing: list)
        } throws: { error in
            "\(error)".contains(named)
        }
    }

    @Test func unixSocketPeersAreNotAllowed() throws {
        #expect(!(try ClientAllowList(parsing: "0.0.0.0/0").allows(nil)))
    }
}
