/// The reconstruction term of a feed-forward autoencoder, as the spec's `"loss"` chooses it:
///
///     mse       L = scale · Σ (y − t)²
///     bce       L = scale · Σ BCE(y, t)
///     ssim      L = scale · Σ_{n,c,p} (1 − SSIM_p)                      (StructuralSimilarityLoss)
///     mse_ssim  L = scale · Σ (y − t)² + scale · Σ_{n,c,p} (1 − SSIM_p)  (DRAEM's reconstructive
///               loss, each term with weight 1: the mean squared error plus 1 − mean SSIM)
///
/// with scale = 1 / (whole batch · C·H·W), so each term is a per-pixel mean and the parts of a
/// split batch add up. y, t, gradient: batch-minor (C·H·W, batch).
package final class ReconstructionObjective {
    /// The per-pixel term (nil for ssim).
    package let pixelwise: ReconstructionLoss?
    /// The SSIM term (ssim, mse_ssim).
    package let structural: StructuralSimilarityLoss?

    package init(pixelwise: ReconstructionLoss?, structural: StructuralSimilarityLoss?) {
        precondition(pixelwise != nil || structural != nil, "a reconstruction objective needs a term")
        self.pixelwise = pixelwise
        self.structural = structural
    }

    package func forward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>, batch: Int,
                 features: Int, scale: Float) -> Float {
        var loss: Float = 0
        if let pixelwise { loss += pixelwise.forward(output: y, target: t, count: batch * features, scale: scale) }
        if let structural { loss += structural.forward(output: y, target: t, batch: batch, scale: scale) }
        return loss
    }

    /// The loss, and dL/dy WRITTEN into `gradient`.
    package func forwardBackward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>,
                         gradient dy: UnsafeMutablePointer<Float>, batch: Int, features: Int,
                         scale: Float) -> Float {
        let count = batch * features
        var loss: Float = 0
        if let pixelwise {
            loss += pixelwise.forward(output: y, target: t, count: count, scale: scale)
            pixelwise.backward(output: y, target: t, gradient: dy, count: count, scale: scale)
        }
        if let structural {
            loss += structural.forwardBackward(output: y, target: t, gradient: dy, batch: batch,
                                               scale: scale, accumulate: pixelwise != nil)
        }
        return loss
    }
}
