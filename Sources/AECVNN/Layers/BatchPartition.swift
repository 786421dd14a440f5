import AECVKernels

/// Which part of a split training batch a network replica runs, and where the parts meet
/// (`PartRendezvous`) to combine sums that span the whole batch (BatchNorm's statistics).
/// Set on every replica for the duration of one parallel training region, nil otherwise; a layer
/// that needs no whole-batch sums ignores it.
package struct BatchPartition {
    package let rendezvous: PartRendezvous
    package let part: Int
    package var parts: Int { rendezvous.parts }

    package init(rendezvous: PartRendezvous, part: Int) {
        self.rendezvous = rendezvous
        self.part = part
    }

    /// Publishes this part's `values` and returns every part's, in part order (see
    /// `PartRendezvous.exchange`).
    package func exchange(_ values: UnsafePointer<Double>) -> UnsafePointer<UnsafePointer<Double>?> {
        rendezvous.exchange(part: part, values)
    }
}
