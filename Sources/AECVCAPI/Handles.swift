// The opaque handles of the C API (`aecv_model`, `aecv_classifier`, `aecv_detector`): one generic
// retained Swift box around
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

/// The facts about a handle's object that queries read without its lock, so shape queries
/// never wait for a training step running on another thread. Immutable for the object's life.
struct HandleFacts {
    var inputSize = 0
    /// Channels of one input example (C of [C, H, W]).
    var inputChannels = 0
    var latentSize = 0
    var classes = 0
    var parameterCount = 0
    var bufferCount = 0
    var isGenerative = false
    /// The filled spec as UTF-8 JSON, without a NUL (the *_spec functions add it).
    var specUTF8: [UInt8] = []
}

/// A core object a C handle can hold.
protocol HandleObject: AnyObject {
    /// The C type's name for messages, e.g. "aecv_model".
    static var cTypeName: String { get }
    var handleFacts: HandleFacts { get }
}

/// What an `aecv_model *`, `aecv_classifier *` or `aecv_detector *` points to (an unmanaged,
/// retained reference): the object, the lock that serializes calls on it, and its facts. Each
/// instantiation is its own kind in the registry, so a handle of one kind passed as another is
/// refused.
final class Handle<Object: HandleObject>: CHandle {
    /// Touched only while `lock` is held: the core objects are not thread-safe.
    private let object: Object
    private let lock = HandleLock()
    let facts: HandleFacts

    init(_ object: Object) {
        self.object = object
        facts = object.handleFacts
    }

    var inputSize: Int { facts.inputSize }
    var inputChannels: Int { facts.inputChannels }
    var latentSize: Int { facts.latentSize }
    var classes: Int { facts.classes }
    var parameterCount: Int { facts.parameterCount }
    var bufferCount: Int { facts.bufferCount }
    var isGenerative: Bool { facts.isGenerative }
    var specUTF8: [UInt8] { facts.specUTF8 }

    /// Runs `body` on the object with the handle's lock held.
    func withLocked<Result>(_ body: (Object) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(object) }
    }

    /// The live handle behind a C pointer argument named `name`, or INVALID_ARGUMENT for NULL and
    /// for pointers that are not live handles of this kind (freed, never created, another kind).
    static func argument(_ pointer: OpaquePointer?, _ name: String) throws -> Handle {
        guard let pointer else { throw AECVError.invalidArgument("\(name): NULL") }
        guard let handle = lookup(pointer) else {
            throw AECVError.invalidArgument(
                "\(name): \(UnsafeRawPointer(pointer)) is not a live \(Object.cTypeName) (already freed?)")
        }
        return handle
    }
}

typealias ModelHandle = Handle<Autoencoder>
typealias ClassifierHandle = Handle<Classifier>
typealias DetectorHandle = Handle<Detector>

extension Autoencoder: HandleObject {
    static var cTypeName: String { "aecv_model" }
    var handleFacts: HandleFacts {
        HandleFacts(inputSize: inputSize, inputChannels: inputShape[0], latentSize: latentSize, parameterCount: parameterCount,
                    bufferCount: bufferCount, isGenerative: isGenerative, specUTF8: Array(specJSON.utf8))
    }
}

extension Classifier: HandleObject {
    static var cTypeName: String { "aecv_classifier" }
    var handleFacts: HandleFacts {
        HandleFacts(inputSize: inputSize, classes: classes, parameterCount: parameterCount,
                    bufferCount: bufferCount,                     specUTF8: Array(spec.jsonString().utf8))
    }
}

extension Detector: HandleObject {
    static var cTypeName: String { "aecv_detector" }
    var handleFacts: HandleFacts {
        HandleFacts(inputSize: inputSize, classes: classes, parameterCount: parameterCount,
                    bufferCount: bufferCount,                     specUTF8: Array(spec.jsonString().utf8))
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
