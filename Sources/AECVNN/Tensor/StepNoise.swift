/// Training-time randomness of one step: example i of the whole batch draws from a generator
/// seeded by the step's seed and i, so the draws do not depend on how the batch is split among
/// threads, and a model is reproducible from its seed whatever the thread count.
package struct StepNoise {
    package let seed: UInt64
    /// Index in the whole batch of this part's first example.
    package let firstExample: Int

    package init(seed: UInt64, firstExample: Int) { (self.seed, self.firstExample) = (seed, firstExample) }

    package func generator(forExample i: Int) -> RandomSource {
        RandomSource(seed: seed ^ (UInt64(firstExample + i) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// The noise of the examples from `offset` on.
    package func shifted(by offset: Int) -> StepNoise { StepNoise(seed: seed, firstExample: firstExample + offset) }

    /// An independent stream for one consumer (a layer of a chain, a chain of a network): the
    /// seed mixed with `salt`, the example indexing unchanged.
    package func salted(_ salt: UInt64) -> StepNoise {
        var g = RandomSource(seed: seed ^ (salt &* 0xD1B5_4A32_D192_ED03))
        return StepNoise(seed: g.next(), firstExample: firstExample)
    }
}
