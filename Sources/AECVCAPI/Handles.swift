// The opaque handles of the C API (`aecv_model`, `aecv_classifier`): a retained Swift box around
// a core object plus the lock that serializes calls on it. Calls on different handles share
// nothing and run in parallel.
//
// Live handles are also kept in a registry, so that a pointer that is not a live handle of the
// expected kind (freed twice, used after free, never created, or a handle of another kind) is an
// AECV_ERR_INVALID_ARGUMENT instead of a crash, and so that freeing a handle racing with a call on
// it cannot pull the object out from under it: a call holds its own strong reference, taken
// under the registry lock, until it returns.
import AECV

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A pthread mutex at a fixed heap address (a pthread mutex must not be copied or moved).
final class HandleLock {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// What an `aecv_model *` points to (as an unmanaged, retained reference).
final class ModelHandle: CHandle {
    /// Touched only while `lock` is held: `Autoencoder` is not thread-safe.
    private let model: Autoencoder
    private let lock = HandleLock()

    // Immutable facts about the model, read without the lock so shape queries never wait for a
    // training step running on another thread.
    let inputSize: Int
    let latentSize: Int
    let parameterCount: Int
    let isGenerative: Bool
    /// The filled spec as UTF-8 JSON, without a NUL (aecv_model_spec adds it).
    let specUTF8: [UInt8]

    init(model: Autoencoder) {
        self.model = model
        inputSize = model.inputSize
        latentSize = model.latentSize
        parameterCount = model.parameterCount
        isGenerative = model.isGenerative
        specUTF8 = Array(model.specJSON.utf8)
    }

    /// Runs `body` on the model with the handle's lock held.
    func withLockedModel<Result>(_ body: (Autoencoder) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(model) }
    }
}

// MARK: - Registry of live handles

/// A kind of C handle: a final class whose instances are handed to C as retained pointers and
/// looked up through the registry, which also records each pointer's kind.
protocol CHandle: AnyObject {}

/// The addresses of live handles and the kind of each. Guarded by `registryLock`; held only for a
/// lookup, so it does not serialize the work of different handles.
private nonisolated(unsafe) var liveHandles = [UInt: ObjectIdentifier]()
private let registryLock = HandleLock()

extension CHandle {
    /// Registers the handle and returns a retained pointer for C; balanced by `release(_:)`.
    func retainedPointer() -> OpaquePointer {
        let pointer = Unmanaged.passRetained(self).toOpaque()
        registryLock.withLock { liveHandles[UInt(bitPattern: pointer)] = ObjectIdentifier(Self.self) }
        return OpaquePointer(pointer)
    }

    private static func isLive(_ pointer: OpaquePointer) -> Bool {
        liveHandles[UInt(bitPattern: UnsafeRawPointer(pointer))] == ObjectIdentifier(Self.self)
    }

    /// The live handle behind a C pointer, as a strong reference (so it outlives a concurrent
    /// free until the caller drops it); nil when the pointer is not a live handle of this kind.
    static func lookup(_ pointer: OpaquePointer) -> Self? {
        registryLock.withLock {
            guard isLive(pointer) else { return nil }
            return Unmanaged<Self>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
        }
    }

    /// Unregisters and releases the C reference; false when the pointer is not a live handle of
    /// this kind (double free, another kind), in which case nothing happens.
    @discardableResult
    static func release(_ pointer: OpaquePointer) -> Bool {
        let wasLive = registryLock.withLock {
            guard isLive(pointer) else { return false }
            liveHandles[UInt(bitPattern: UnsafeRawPointer(pointer))] = nil
            return true
        }
        // Released outside the registry lock: deinit may take a while for a large model.
        if wasLive { Unmanaged<Self>.fromOpaque(UnsafeRawPointer(pointer)).release() }
        return wasLive
    }
}
