/// All parameters of a model in one flat float buffer and all gradients in another; layers see
/// views into them. One optimizer loop runs over the whole buffer, and the same buffer is what a
/// checkpoint writes.
///
/// The parameters are double-buffered (`DoubleBuffer`): an optimizer step writes the next values
/// into the spare buffer and `commit` swaps, so a step rejected for non-finite values leaves the
/// parameters bit-identical without a copy.
final class ParameterStore {
    struct Entry {
        var name: String       // PyTorch state_dict name, e.g. "encoder.0.weight"
        var shape: [Int]
        var offset: Int
        var count: Int { shape.reduce(1, *) }
    }

    let entries: [Entry]
    let count: Int
    private let values: DoubleBuffer
    let gradients: UnsafeMutablePointer<Float>
    /// Called after every swap so the layers point at the current buffer.
    private let rebind: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void

    /// `named`: the (name, shape) list in layout order. `rebind` binds all layers to (parameters,
    /// gradients) base pointers; it is called now and after each committed step.
    init(named: [(name: String, shape: [Int])],
         rebind: @escaping (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        var offset = 0
        var entries: [Entry] = []
        for (name, shape) in named {
            entries.append(Entry(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        self.entries = entries
        count = offset
        values = DoubleBuffer(count: offset)
        gradients = .allocate(capacity: max(offset, 1))
        gradients.initialize(repeating: 0, count: max(offset, 1))
        self.rebind = rebind
        rebind(values.current, gradients)
    }

    deinit { gradients.deallocate() }

    var parameters: UnsafeMutablePointer<Float> { values.current }
    /// Where an optimizer writes the next parameters.
    var spare: UnsafeMutablePointer<Float> { values.spare }

    func zeroGradients() { gradients.update(repeating: 0, count: count) }

    /// Makes the spare buffer current (after an accepted optimizer step).
    func commit() {
        values.swap()
        rebind(values.current, gradients)
    }

    func entry(named name: String) -> Entry? { entries.first { $0.name == name } }
}
