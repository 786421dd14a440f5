import AECV
import AECVData

/// P×P crops of C×H×W images in the caller's layout ((N, C·H·W) floats), for training on patches
/// of large images: `aecv train --patch` and `aecv anomaly bench --patch`. A model trained on
/// patches scores or reconstructs whole images by overlapping tiles.
struct PatchCrop {
    /// [C, H, W] of the source images.
    let imageShape: [Int]
    /// The side P of the square patches; P ≤ H and P ≤ W.
    let patch: Int

    var patchShape: [Int] { [imageShape[0], patch, patch] }
    var imageSize: Int { imageShape.reduce(1, *) }
    var patchSize: Int { imageShape[0] * patch * patch }

    /// Copies the patch whose top-left corner is (top, left) of example `index` of `set` into
    /// `out` (C·P·P floats, channel planes of P rows).
    func copy(_ set: ImageDataset, example index: Int, top: Int, left: Int, into out: UnsafeMutablePointer<Float>) {
        let (h, w) = (imageShape[1], imageShape[2])
        let image = index * imageSize
        for c in 0..<imageShape[0] {
            for r in 0..<patch {
                set.copyValues(from: image + (c * h + top + r) * w + left, count: patch, into: out + (c * patch + r) * patch)
            }
        }
    }

    /// A corner drawn uniformly from the (H − P + 1)·(W − P + 1) positions (the row first; no
    /// draw along an axis the patch fills).
    func randomCorner(_ random: inout RandomSource) -> (top: Int, left: Int) {
        let (h, w) = (imageShape[1], imageShape[2])
        let top = h == patch ? 0 : Int(random.next() % UInt64(h - patch + 1))
        let left = w == patch ? 0 : Int(random.next() % UInt64(w - patch + 1))
        return (top, left)
    }

    /// The corner of example `index` in `epoch` of a run seeded `seed`: a function of the three
    /// only, so an example gets the same crop in memory and streamed, on any rank, resumed or not.
    func corner(seed: UInt64, epoch: Int, index: Int) -> (top: Int, left: Int) {
        var random = RandomSource(seed: seed ^ (UInt64(epoch) &* 0xD1B5_4A32_D192_ED03)
                                      ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        return randomCorner(&random)
    }

    /// The centred patch of every image of `set` (a fixed test set for a model trained on
    /// patches).
    func centred(_ set: ImageDataset) -> ImageDataset {
        var out = [Float](repeating: 0, count: set.count * patchSize)
        let (top, left) = ((imageShape[1] - patch) / 2, (imageShape[2] - patch) / 2)
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<set.count {
                copy(set, example: i, top: top, left: left, into: dst.baseAddress! + i * patchSize)
            }
        }
        return ImageDataset(images: out, labels: set.labels, shape: patchShape)
    }
}
