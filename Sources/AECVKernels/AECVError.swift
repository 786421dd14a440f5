/// The one error type of the core library. Each case carries a human-readable message that names
/// the offending argument or field and the expected vs. actual value. The C API maps each case
/// once to an `aecv_status` code (see `statusCode`).
public enum AECVError: Error, Equatable, CustomStringConvertible {
    /// NULL pointer, zero batch, negative thread count, bad enum value.
    case invalidArgument(String)
    /// A buffer's size or a shape does not match the model.
    case shape(String)
    /// A model spec is malformed or inconsistent; the message names the field.
    case config(String)
    /// NaN/Inf in the inputs, or produced by a step; the model was left exactly as before.
    case nonFinite(String)
    /// A file could not be opened, read or written.
    case io(String)
    /// A file is not a valid model file (magic, version, checksum, truncation, sizes).
    case format(String)
    /// An allocation failed or a requested size is absurd.
    case noMemory(String)
    /// The operation is not valid for this model kind.
    case unsupported(String)
    /// A bug in the library.
    case `internal`(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .shape(let m), .config(let m), .nonFinite(let m), .io(let m),
             .format(let m), .noMemory(let m), .unsupported(let m), .internal(let m):
            return m
        }
    }

    /// The matching `aecv_status` value of include/aecv.h.
    public var statusCode: Int32 {
        switch self {
        case .invalidArgument: return 1
        case .shape: return 2
        case .config: return 3
        case .nonFinite: return 4
        case .io: return 5
        case .format: return 6
        case .noMemory: return 7
        case .unsupported: return 8
        case .internal: return 100
        }
    }

    public var description: String { message }
}
