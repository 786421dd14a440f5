// Status codes and the thread-local error message of the C API (include/aecv.h).
//
// Every status-returning entry point runs its body through `withStatus`, which clears this
// thread's message first, turns a thrown `AECVError` into its status code plus message, and any
// other error into AECV_ERR_INTERNAL. Nothing here may trap: a trap kills the host process.
import AECV

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `aecv_status` values that have no `AECVError` case; every error status comes from
/// `AECVError.statusCode`, the one mapping of errors to codes.
enum Status {
    static let ok: Int32 = 0
    static let `internal`: Int32 = AECVError.internal("").statusCode
}

// MARK: - Status names

/// Static, NUL-terminated names, allocated once and never freed (aecv_status_name's contract).
private let statusNames: [Int32: UnsafePointer<CChar>] = {
    let names: [(Int32, String)] = [
        (Status.ok, "AECV_OK"),
        (AECVError.invalidArgument("").statusCode, "AECV_ERR_INVALID_ARGUMENT"),
        (AECVError.shape("").statusCode, "AECV_ERR_SHAPE"),
        (AECVError.config("").statusCode, "AECV_ERR_CONFIG"),
        (AECVError.nonFinite("").statusCode, "AECV_ERR_NONFINITE"),
        (AECVError.io("").statusCode, "AECV_ERR_IO"),
        (AECVError.format("").statusCode, "AECV_ERR_FORMAT"),
        (AECVError.noMemory("").statusCode, "AECV_ERR_NO_MEMORY"),
        (AECVError.unsupported("").statusCode, "AECV_ERR_UNSUPPORTED"),
        (AECVError.internal("").statusCode, "AECV_ERR_INTERNAL"),
    ]
    var table: [Int32: UnsafePointer<CChar>] = [:]
    for (code, name) in names { table[code] = staticCString(name) }
    return table
}()

private let unknownStatusName = staticCString("AECV_ERR_UNKNOWN")

/// A NUL-terminated copy of `text` that lives for the whole process (for strings handed to C as
/// "static"). Only called from global initializers, a few bytes each.
func staticCString(_ text: String) -> UnsafePointer<CChar> {
    let utf8 = Array(text.utf8)
    let storage = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
    for (index, byte) in utf8.enumerated() { storage[index] = CChar(bitPattern: byte) }
    storage[utf8.count] = 0
    return UnsafePointer(storage)
}

/// "", static.
let emptyCString = staticCString("")

@_cdecl("aecv_status_name")
public func aecv_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    statusNames[status] ?? unknownStatusName
}

// MARK: - Thread-local last error

/// Key of this thread's message buffer, freed by the key's destructor when the thread exits.
/// Created once (Swift globals are initialized exactly once, thread-safely).
///
/// A buffer is one malloc'd block: its capacity in bytes (an `Int`), then the NUL-terminated
/// text. It is reused while large enough, so repeated failures do not allocate.
private let lastErrorKey: pthread_key_t? = {
    var key = pthread_key_t()
    let result = pthread_key_create(&key) { block in free(block) }
    return result == 0 ? key : nil
}()

private let headerBytes = MemoryLayout<Int>.stride

/// Shown when no thread-local key could be created (the process ran out of keys).
private let unstorableMessage = staticCString(
    "error message unavailable (pthread_key_create failed)")

/// Sets this thread's message. If a larger buffer cannot be allocated, the message is truncated
/// into the old one.
func setLastError(_ message: String) {
    guard let key = lastErrorKey else { return }
    var text = message
    text.withUTF8 { bytes in
        var block = pthread_getspecific(key)
        let needed = bytes.count + 1
        if block == nil || block!.load(as: Int.self) < needed {
            let capacity = max(needed, 256)
            if let larger = malloc(headerBytes + capacity) {
                larger.storeBytes(of: capacity, as: Int.self)
                if pthread_setspecific(key, larger) == 0 {
                    free(block)
                    block = larger
                } else {
                    free(larger)
                }
            }
        }
        guard let block else { return }
        let capacity = block.load(as: Int.self)
        let text = block + headerBytes
        let count = min(bytes.count, capacity - 1)
        if count > 0, let source = bytes.baseAddress { memcpy(text, source, count) }
        text.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
    }
}

/// Empties this thread's message without freeing its buffer (the common, allocation-free path).
func clearLastError() {
    guard let key = lastErrorKey, let block = pthread_getspecific(key) else { return }
    (block + headerBytes).storeBytes(of: 0, as: UInt8.self)
}

@_cdecl("aecv_last_error")
public func aecv_last_error() -> UnsafePointer<CChar> {
    guard let key = lastErrorKey else { return unstorableMessage }
    guard let block = pthread_getspecific(key) else { return emptyCString }
    return UnsafePointer((block + headerBytes).assumingMemoryBound(to: CChar.self))
}

// MARK: - Running a body and mapping its errors

/// Clears this thread's message, runs `body`, and maps what it throws to a status code and
/// message. The boundary's own checks throw `AECVError` too; anything else is a bug
/// (AECV_ERR_INTERNAL).
@inline(__always)
func withStatus(_ function: StaticString, _ body: () throws -> Void) -> Int32 {
    clearLastError()
    do {
        // The thread setting is read once per call (a concurrent aecv_set_num_threads applies
        // from the next call).
        try ComputeThreads.forCall(body)
        return Status.ok
    } catch let error as AECVError {
        setLastError(error.message)
        return error.statusCode
    } catch {
        setLastError("\(function): internal error: \(error)")
        return Status.internal
    }
}
