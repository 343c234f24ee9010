import CShim
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The two children and how each is started.
enum ChildRole: String, Sendable, CaseIterable {
    case agent = "ses-cred-agent"
    case worker = "ses-smtp-worker"
}

/// A user to run a child as, or the supervisor's own identity (development, tests).
struct ChildIdentity: Equatable, Sendable {
    var uid: uid_t
    var gid: gid_t
    var change: Bool

    static let inherit = ChildIdentity(uid: getuid(), gid: getgid(), change: false)
}

struct SpawnError: Error, CustomStringConvertible {
    var description: String
}

/// Starts children through the C fork/exec helper, which places their descriptors at 3, 4, … and
/// drops privileges before exec.
enum ChildSpawner {
    /// Next to our own executable (a build tree), else where the package installs them.
    static func executablePath(_ role: ChildRole) -> String? {
        var candidates: [String] = []
        if let own = ownExecutableDirectory() { candidates.append("\(own)/\(role.rawValue)") }
        candidates.append("/usr/libexec/ses-smtpd-proxy/\(role.rawValue)")
        return candidates.first { access($0, X_OK) == 0 }
    }

    static func spawn(
        path: String,
        arguments: [String],
        environment: [String],
        descriptors: [Int32],
        identity: ChildIdentity
    ) throws(SpawnError) -> pid_t {
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let shimIdentity = shim_identity(change_identity: identity.change ? 1 : 0, uid: identity.uid, gid: identity.gid)
        let pid = descriptors.withUnsafeBufferPointer { fds in
            shim_spawn(path, argv, envp, fds.baseAddress, Int32(fds.count), shimIdentity, SIGKILL)
        }
        guard pid > 0 else {
            throw SpawnError(description: "cannot start \(path): \(String(cString: strerror(-pid)))")
        }
        return pid
    }

    private static func ownExecutableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }
}
