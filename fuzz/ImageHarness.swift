// libFuzzer entry point for the image decoders (JPEG through libjpeg-turbo, PNG through libpng,
// the EXIF orientation parser, then the resize and crop of the decoded image). Compiled by
// fuzz/run_images.sh TOGETHER with the sources of AECV and AECVData as one module (swiftc
// -sanitize=fuzzer,address), the C shim Sources/CImageCodecs instrumented the same way. The
// system libjpeg and libpng themselves are not instrumented: the target is our use of them (the
// setjmp error paths, size limits, buffer sizes) and our own parsers.
//
// Every input must be refused with an AECVError or decode to an image within the limits; a
// crash, an ASan report, a leak, an exit() from a library or a hang is a bug.

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let orientation = ExifOrientation.of(jpeg: bytes)
    precondition((1...8).contains(orientation), "EXIF orientation out of range")
    guard let image = try? ImageFile.decode(bytes, name: "fuzz") else { return 0 }
    precondition(image.width >= 1 && image.height >= 1 && image.width * image.height <= ImageFile.maxPixels)
    precondition(image.pixels.count == image.width * image.height * image.channels)
    // Small images only go through the resizers (a decoded 64-megapixel image is legitimate
    // but would make every run slow).
    if image.width * image.height <= 1 << 16 {
        let prepared = ImagePreprocessing(channels: image.isGrey ? 1 : 3, resize: .shorterSideThenCentreCrop(7))
            .prepare(image)
        precondition(prepared.width == 7 && prepared.height == 7)
        _ = image.converted(channels: 1).resized(width: 1 + image.width / 3, height: 2 * image.height + 1)
    }
    return 0
}
