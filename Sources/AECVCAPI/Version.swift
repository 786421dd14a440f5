// Library version and the process-wide compute-thread setting (include/aecv.h, "Version" and
// "Compute threads").
import AECV

/// Static for the life of the process; never freed.
private let versionCString = staticCString(LibraryVersion.string)

@_cdecl("aecv_version_number")
public func aecv_version_number() -> UInt32 {
    LibraryVersion.number
}

@_cdecl("aecv_version_string")
public func aecv_version_string() -> UnsafePointer<CChar> {
    versionCString
}

/// Largest thread count accepted; more is certainly a mistake (and OpenBLAS caps it anyway).
let maxComputeThreads: Int32 = 1024

@_cdecl("aecv_set_num_threads")
public func aecv_set_num_threads(_ n: Int32) -> Int32 {
    withStatus("aecv_set_num_threads") {
        guard n >= 1 else {
            throw AECVError.invalidArgument("n: thread count must be >= 1, got \(n)")
        }
        guard n <= maxComputeThreads else {
            throw AECVError.invalidArgument(
                "n: thread count must be <= \(maxComputeThreads), got \(n)")
        }
        ComputeThreads.set(Int(n))
    }
}
