import AECVKernels

/// A growable float buffer owned by a layer or model: scratch space that is reused across steps.
/// It reallocates only when a larger batch than ever before arrives, so a training loop at a fixed
/// batch size allocates nothing after its first step.
package final class Workspace {
    package private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    package init(capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
        pointer.initialize(repeating: 0, count: self.capacity)
    }

    deinit { pointer.deallocate() }

    /// Returns a buffer of at least `count` floats (contents unspecified after a regrow).
    @inline(__always)
    package func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity { grow(count) }
        return pointer
    }

    private func grow(_ count: Int) {
        pointer.deallocate()
        capacity = count
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
    }
}
