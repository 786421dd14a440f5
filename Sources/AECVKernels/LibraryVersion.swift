/// The library's version, one definition for the C API (aecv_version_*), the CLI and Swift users.
/// Keep in step with AECV_VERSION_* in include/aecv.h (the C tests compare them).
public enum LibraryVersion {
    public static let major: UInt32 = 0
    public static let minor: UInt32 = 1
    public static let patch: UInt32 = 0
    /// MAJOR·10000 + MINOR·100 + PATCH, as aecv_version_number.
    public static var number: UInt32 { major * 10000 + minor * 100 + patch }
    /// "MAJOR.MINOR.PATCH"
    public static var string: String { "\(major).\(minor).\(patch)" }
}
