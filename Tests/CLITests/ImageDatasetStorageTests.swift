import AECV
import AECVData
import Foundation
import XCTest

/// Image sets that arrive as bytes stay bytes in memory (a quarter of float32) and become float32
/// one batch at a time; every accessor must give exactly byte / 255, as the float32 loader did.
final class ImageDatasetStorageTests: XCTestCase {
    func bytes(_ set: ImageDataset) -> [UInt8]? {
        if case .bytes(let b) = set.pixels { return b }
        return nil
    }

    func testIDXStaysBytesAndConvertsExactly() throws {
        try XCTSkipUnless(Directory.kind(of: ImageDataset.fashionMNISTDirectory) == .directory,
                          "SKIPPED LOUDLY: Debian's dataset-fashion-mnist is not installed")
        let set = try ImageDataset.fashionMNIST(train: false, limit: 50)
        let raw = try XCTUnwrap(bytes(set), "IDX images should be held as bytes")
        XCTAssertEqual(raw.count, 50 * 784)
        XCTAssertEqual(set.count, 50)
        let all = set.floats()
        // The float32 loader of earlier versions scaled by the reciprocal; the same bits.
        XCTAssertTrue(all == raw.map { Float($0) * (1 / 255) }, "floats() differs from byte * (1/255)")
        XCTAssertGreaterThan(Set(raw).count, 100, "real images, not a constant")

        // An odd run across an example boundary, one example, a slice.
        var run = [Float](repeating: -1, count: 1000)
        run.withUnsafeMutableBufferPointer { set.copyValues(from: 700, count: 1000, into: $0.baseAddress!) }
        XCTAssertEqual(run, Array(all[700..<1700]))
        var one = [Float](repeating: -1, count: 784)
        one.withUnsafeMutableBufferPointer { set.copyExample(7, into: $0.baseAddress!) }
        XCTAssertEqual(one, Array(all[(7 * 784)..<(8 * 784)]))
        XCTAssertEqual(set.slice(3, count: 2), Array(all[(3 * 784)..<(5 * 784)]))

        let picked = set.subset([9, 2, 9])
        XCTAssertNotNil(bytes(picked), "a subset keeps the storage")
        XCTAssertEqual(picked.labels, [set.labels[9], set.labels[2], set.labels[9]])
        XCTAssertEqual(picked.floats(), Array(all[(9 * 784)..<(10 * 784)] + all[(2 * 784)..<(3 * 784)] + all[(9 * 784)..<(10 * 784)]))

        var cut = set
        cut.truncate(to: 10)
        XCTAssertEqual(cut.count, 10)
        XCTAssertEqual(cut.labels, Array(set.labels[0..<10]))
        XCTAssertEqual(cut.floats(), Array(all[0..<(10 * 784)]))
        XCTAssertEqual(set.count, 50, "truncating a copy leaves the original")
    }

    func testFloatSetsGiveTheSameAnswers() throws {
        let values = (0..<(5 * 12)).map { Float($0) * 0.01 - 0.1 }
        let set = ImageDataset(images: values, labels: [4, 3, 2, 1, 0], shape: [1, 3, 4])
        XCTAssertNil(bytes(set))
        XCTAssertEqual(set.count, 5)
        XCTAssertEqual(set.slice(1, count: 2), Array(values[12..<36]))
        XCTAssertEqual(set.subset([4, 0]).floats(), Array(values[48..<60] + values[0..<12]))
        XCTAssertEqual(set.subset([4, 0]).labels, [0, 4])
        var cut = set
        cut.truncate(to: 2)
        XCTAssertEqual(cut.floats(), Array(values[0..<24]))
        XCTAssertEqual(cut.labels, [4, 3])
    }

    func testImageFilesAndUint8NPYAreHeldAsBytes() throws {
        let files = ["png_palette8.png", "jpeg_baseline.jpg"].map { ImageDecodeTests.fixtures + "/" + $0 }
        let prep = ImagePreprocessing(channels: 3, resize: .shorterSideThenCentreCrop(8))
        let set = try ImageDataset.imageFiles(files, preprocessing: prep).dataset
        let raw = try XCTUnwrap(bytes(set), "decoded images should be held as bytes")
        XCTAssertEqual(raw.count, 2 * 3 * 8 * 8)
        // The planar bytes are the prepared image's pixels, channel plane after channel plane.
        let image = try prep.load(files[1])
        var planar = [Float](repeating: 0, count: 3 * 64)
        planar.withUnsafeMutableBufferPointer { image.writePlanar(into: $0.baseAddress!) }
        XCTAssertEqual(set.slice(1, count: 1), planar)

        let path = FileManager.default.temporaryDirectory.path + "/aecv-storage-\(getpid()).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPYArray(shape: [2, 3, 8, 8], elements: .uint8(raw)).write(to: path)
        let fromNPY = try ImageDataset.npy(path: path)
        XCTAssertEqual(bytes(fromNPY), raw)
        XCTAssertEqual(fromNPY.shape, [3, 8, 8])
    }
}
