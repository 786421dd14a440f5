// The opaque `aecv_model` handle: a retained Swift box around an `Autoencoder` plus the lock
// that serializes calls on it. Calls on different handles share nothing and run in parallel.
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

    /// A new retained handle for C; balanced by `release(_:)` in aecv_model_free.
    func retainedPointer() -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(self).toOpaque())
    }

    /// The handle behind a C pointer (not retained: valid while the caller has not freed it).
    static func from(_ pointer: OpaquePointer) -> ModelHandle {
        Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }

    /// Balances `retainedPointer()`.
    static func release(_ pointer: OpaquePointer) {
        Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(pointer)).release()
    }
}
