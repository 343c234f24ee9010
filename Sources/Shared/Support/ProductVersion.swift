/// The version reported by `--version` and `/health`.
public enum ProductVersion {
    public static let string = "v0.1.0"
}
