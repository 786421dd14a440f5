import CKernels

/// The one-image direct convolutions of Sources/CKernels/direct_conv_single.c: the sums of
/// `DirectConvolution` for a batch of 1, with vectors across 16 output channels instead of
/// lanes. They replace im2col + sgemm for encode, decode and reconstruct of a single image.
///
/// `init` returns nil unless the CPU has AVX-512, the kernel is at most 8 and the gather has 8
/// or more output channels (column channels toward the columns, image channels toward the
/// image); the layer then keeps im2col + GEMM.
package struct SingleImageConvolution {
    private let shape: ckernels_conv_shape
    private let toImage: Bool

    /// `toImage`: the direction of the gather (Conv2d forward: false; ConvTranspose2d forward: true).
    package init?(_ g: ConvGeometry, columnChannels: Int, toImage: Bool) {
        var s = ckernels_conv_shape(image_channels: g.channels, height: g.height, width: g.width,
                                    column_channels: columnChannels, column_height: g.columnHeight,
                                    column_width: g.columnWidth, kernel: g.kernel, stride: g.stride,
                                    padding: g.padding, lanes: 1)
        if ckernels_single_conv_variant(&s, toImage ? 1 : 0) == Int32(CKERNELS_CONV_GEMM) { return nil }
        shape = s
        self.toImage = toImage
    }

    /// Floats of the packed weight.
    package var packFloats: Int { var s = shape; return ckernels_direct_conv_pack_floats(&s) }

    /// Floats of the scratch buffer `run` needs (toward the columns: the image with zero-padded
    /// rows; 0 toward the image).
    package var scratchFloats: Int { var s = shape; return toImage ? 0 : ckernels_single_conv_scratch_floats(&s) }

    /// Packs the layer's weight (column channels, image channels, k, k) for this gather.
    package func pack(weight: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        var s = shape
        ckernels_single_conv_pack(&s, weight, toImage ? 1 : 0, packed)
    }

    /// output = f(bias + the gather of input), f = ReLU when `relu`: the columns (Conv2d's
    /// output) from the image, or the image (ConvTranspose2d's output) from the columns.
    package func run(input: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                     output: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool,
                     scratch: UnsafeMutablePointer<Float>) {
        var s = shape
        if toImage {
            ckernels_single_conv_to_image(&s, input, packed, output, bias, relu ? 1 : 0)
        } else {
            ckernels_single_conv_to_columns(&s, input, packed, output, bias, relu ? 1 : 0, scratch)
        }
    }
}
