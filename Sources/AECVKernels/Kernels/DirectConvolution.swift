import CKernels

/// The direct convolution passes of Sources/CKernels/direct_conv.c for one layer and one batch:
/// gathers that read the batch-minor input in place instead of materializing im2col columns.
///
/// A convolution has an image side (Conv2d input, ConvTranspose2d output; `ConvGeometry`'s
/// channels × height × width) and a column side (Conv2d output, ConvTranspose2d input:
/// `columnChannels` × OH × OW), with one weight (columnChannels, imageChannels, k, k) in both:
///
///     toColumns:  col[o, oh, ow, n] = Σ_{c,i,j} w[o, c, i, j] · img[c, oh·s − p + i, ow·s − p + j, n]
///     toImage:    its adjoint, img[c, y, x, n] = Σ w[o, c, i, j] · col[o, oh, ow, n]
///     weightGradient: dw[o, c, i, j] += Σ_{oh,ow,n} col[o, oh, ow, n] · img[c, oh·s − p + i, ow·s − p + j, n]
///
/// `init` returns nil when the CPU has no AVX-512 (F + VL), for batches under 8 lanes (one-image
/// calls keep the GEMM path; lane counts past a multiple of the vector are masked), or for
/// kernels over 8; the layer then uses im2col + GEMM. The results agree with that path to float
/// rounding (the sums run in another order), which DirectConvolutionTests check.
package struct DirectConvolution {
    private let shape: ckernels_conv_shape

    package init?(_ g: ConvGeometry, columnChannels: Int, batch: Int) {
        var s = ckernels_conv_shape(image_channels: g.channels, height: g.height, width: g.width,
                                    column_channels: columnChannels, column_height: g.columnHeight,
                                    column_width: g.columnWidth, kernel: g.kernel, stride: g.stride,
                                    padding: g.padding, lanes: batch)
        if ckernels_direct_conv_variant(&s) == Int32(CKERNELS_CONV_GEMM) { return nil }
        shape = s
    }

    /// A gather keeps a register tile of 16 output channels. 1–4 channels (a Conv2d or a
    /// ConvTranspose2d to grey or RGB) have tiles of their own, several pixels wide; 5–7 would
    /// be mostly padding and keep im2col + GEMM.
    package var gathersToColumns: Bool { shape.column_channels >= 8 || shape.column_channels <= 4 }
    package var gathersToImage: Bool { shape.image_channels >= 8 || shape.image_channels <= 4 }

    /// Whether toColumns prefetches its source: when the image side is larger than a quarter of
    /// the L3, so that it comes from DRAM (direct_conv.c says why and what it buys).
    package var prefetches: Bool { var s = shape; return ckernels_direct_conv_prefetches(&s) != 0 }

    /// Sets the source size above which toColumns prefetches (nil: a quarter of the L3 again).
    /// For tests, which run both paths.
    package static func setPrefetchThreshold(bytes: Int?) { ckernels_direct_conv_set_prefetch_bytes(bytes ?? 0) }

    /// Floats of the weight-packing buffer the gathers need.
    package var packFloats: Int { var s = shape; return ckernels_direct_conv_pack_floats(&s) }

    /// columns = f(bias + Σ w · image taps), f = ReLU when `relu`, 0 for a nil bias.
    /// The bias and the ReLU are applied as each value is stored, saving a pass over the output
    /// for each.
    package func toColumns(image: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           columns: UnsafeMutablePointer<Float>,
                           bias: UnsafePointer<Float>? = nil, relu: Bool = false,
                           pack: UnsafeMutablePointer<Float>) {
        var s = shape
        ckernels_conv_to_columns(&s, image, weight, columns, bias, relu ? 1 : 0, pack)
    }

    /// image = f(bias + the adjoint gather of columns).
    package func toImage(columns: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         image: UnsafeMutablePointer<Float>,
                         bias: UnsafePointer<Float>? = nil, relu: Bool = false,
                         pack: UnsafeMutablePointer<Float>) {
        var s = shape
        ckernels_conv_to_image(&s, columns, weight, image, bias, relu ? 1 : 0, pack)
    }

    package func weightGradient(columns: UnsafePointer<Float>, image: UnsafePointer<Float>,
                                into dw: UnsafeMutablePointer<Float>) {
        var s = shape
        ckernels_conv_weight_grad(&s, columns, image, dw)
    }

    /// Which convolution code runs: im2col + GEMM, or the AVX-512 gathers.
    package enum Variant: Int32 {
        case gemm = 0      // CKERNELS_CONV_GEMM
        case avx512 = 2    // CKERNELS_CONV_AVX512
    }

    /// The variant this CPU and OS offer.
    package static var detectedVariant: Variant { Variant(rawValue: ckernels_direct_conv_detected()) ?? .gemm }

    /// Restricts later calls to `variant` (nil: automatic again); false when the CPU lacks it.
    /// For tests, which run both paths on the same data.
    @discardableResult
    package static func force(_ variant: Variant?) -> Bool { ckernels_direct_conv_force(variant?.rawValue ?? -1) != 0 }
}
