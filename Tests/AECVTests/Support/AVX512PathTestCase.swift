import XCTest
@testable import AECVKernels

/// The base of the tests that compare the AVX-512 convolution paths (batched and one-image
/// gathers) with im2col + GEMM: on a CPU without AVX-512 those paths never run, so every test
/// skips saying so (`skipReason` names what is not used); after each test the variant and the
/// prefetch threshold the test may have forced are automatic again.
class AVX512PathTestCase: XCTestCase {
    /// What the subclass's tests exercise, for the skip message.
    class var pathUnderTest: String { "the direct convolutions" }

    override func setUpWithError() throws {
        guard DirectConvolution.detectedVariant == .avx512 else {
            throw XCTSkip("SKIPPED: this CPU (or OS) has no AVX-512, so \(Self.pathUnderTest) are not used here; the im2col + GEMM path runs everywhere instead")
        }
    }

    override func tearDown() {
        DirectConvolution.force(nil)
        DirectConvolution.setPrefetchThreshold(bytes: nil)
    }
}
