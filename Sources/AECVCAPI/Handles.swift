// The opaque `aecv_model` handle: a retained Swift box around an `Autoencoder` plus the lock
// that serializes calls on it. Calls on different handles share nothing and run in parallel.
//
// Live handles are also kept in a registry, so that a pointer that is not a live model (freed
// twice, used after free, never created) is an AECV_ERR_INVALID_ARGUMENT instead of a crash,
// and so that aecv_model_free racing with a call on the same model cannot pull the model out
// from under it: a call holds its own strong reference, taken under the registry lock, until it
// returns.
import AECV

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What an `aecv_model *` points to (as an unmanaged, retained reference).
final class ModelHandle {
    /// Touched only while `mutex` is held: `Autoencoder` is not thread-safe.
    private let model: Autoencoder
    /// Heap-allocated so its address never moves (a pthread mutex must not be copied).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

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
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        inputSize = model.inputSize
        latentSize = model.latentSize
        parameterCount = model.parameterCount
        isGenerative = model.isGenerative
        specUTF8 = Array(model.specJSON.utf8)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the model with the handle's lock held.
    func withLockedModel<Result>(_ body: (Autoencoder) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(model)
    }
}

// MARK: - Registry of live handles

/// The addresses of live handles. Guarded by `registryLock`; held only for a set lookup, so it
/// does not serialize the work of different handles.
private nonisolated(unsafe) var liveHandles = Set<UInt>()
private let registryLock: UnsafeMutablePointer<pthread_mutex_t> = {
    let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    lock.initialize(to: pthread_mutex_t())
    pthread_mutex_init(lock, nil)
    return lock
}()

private func withRegistry<Result>(_ body: () -> Result) -> Result {
    pthread_mutex_lock(registryLock)
    defer { pthread_mutex_unlock(registryLock) }
    return body()
}

extension ModelHandle {
    /// Registers the handle and returns a retained pointer for C; balanced by `release(_:)`.
    func retainedPointer() -> OpaquePointer {
        let pointer = Unmanaged.passRetained(self).toOpaque()
        withRegistry { _ = liveHandles.insert(UInt(bitPattern: pointer)) }
        return OpaquePointer(pointer)
    }

    /// The live handle behind a C pointer, as a strong reference (so it outlives a concurrent
    /// aecv_model_free until the caller drops it); nil when the pointer is not a live handle.
    static func lookup(_ pointer: OpaquePointer) -> ModelHandle? {
        withRegistry {
            guard liveHandles.contains(UInt(bitPattern: UnsafeRawPointer(pointer))) else {
                return nil
            }
            return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(pointer))
                .takeUnretainedValue()
        }
    }

    /// Unregisters and releases the C reference; false when the pointer is not a live handle
    /// (double free), in which case nothing happens.
    @discardableResult
    static func release(_ pointer: OpaquePointer) -> Bool {
        let wasLive = withRegistry {
            liveHandles.remove(UInt(bitPattern: UnsafeRawPointer(pointer))) != nil
        }
        // Released outside the registry lock: deinit may take a while for a large model.
        if wasLive { Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(pointer)).release() }
        return wasLive
    }
}
