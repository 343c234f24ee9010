import CShim

#if canImport(Glibc)
import Glibc
#endif

/// What a child process checks before it does anything else (STYLE §1): it must not be root and must
/// hold no capability. A child that finds otherwise exits with EX_CONFIG.
public enum ProcessIdentity {
    public static let exitConfigError: Int32 = 78

    /// nil when the process is unprivileged, otherwise why it is not.
    public static func privilegeProblem() -> String? {
        if getuid() == 0 || geteuid() == 0 { return "running as root" }
        switch shim_has_capabilities() {
        case 0: return nil
        case 1: return "holding capabilities"
        default: return "capability state unreadable"
        }
    }
}
