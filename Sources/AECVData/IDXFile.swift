import AECV
import CZlib

/// Reader of IDX files (MNIST, Fashion-MNIST, EMNIST), gzip-compressed or not.
///
/// Layout (big-endian): 0x00 0x00 type rank, rank × u32 dims, then the data. Type 0x08 = uint8
/// (the only type these datasets use). Images are N×H×W, labels N.
public struct IDXFile {
    public var dimensions: [Int]
    public var bytes: [UInt8]

    /// Largest decompressed file accepted (EMNIST's largest is ~700 MB).
    public static let maxBytes = 2 << 30

    public static func read(path: String) throws -> IDXFile {
        let raw = try readMaybeGzip(path: path)
        if raw.count < 4 || raw[0] != 0 || raw[1] != 0 {
            throw AECVError.format("\(path): not an IDX file (bad magic)")
        }
        if raw[2] != 0x08 {
            throw AECVError.format("\(path): IDX element type 0x\(String(raw[2], radix: 16)) is not supported (uint8 only)")
        }
        let rank = Int(raw[3])
        if rank < 1 || rank > 4 || raw.count < 4 + 4 * rank {
            throw AECVError.format("\(path): IDX rank \(rank) is invalid or the header is truncated")
        }
        var dims: [Int] = []
        var total = 1
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3])
            dims.append(d)
            total = total.multipliedReportingOverflow(by: d).overflow ? Int.max : total * d
        }
        let header = 4 + 4 * rank
        if total > raw.count - header {
            throw AECVError.format("\(path): IDX dimensions \(dims) need \(total) bytes, file has \(raw.count - header)")
        }
        return IDXFile(dimensions: dims, bytes: Array(raw[header..<(header + total)]))
    }

    /// Reads a file through zlib's gz reader, which passes uncompressed files through unchanged.
    static func readMaybeGzip(path: String) throws -> [UInt8] {
        guard let file = gzopen(path, "rb") else {
            throw AECVError.io("\(path): cannot open")
        }
        defer { gzclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw AECVError.format("\(path): corrupt gzip stream") }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<Int(n)])
            if result.count > maxBytes { throw AECVError.format("\(path): larger than \(maxBytes) bytes") }
        }
        return result
    }
}

/// A labelled image set in memory as float32 NCHW in [0, 1].
public struct ImageDataset {
    public var images: [Float]
    public var labels: [Int32]
    /// [C, H, W]
    public var shape: [Int]
    public var count: Int { shape.isEmpty ? 0 : images.count / shape.reduce(1, *) }
    public var exampleSize: Int { shape.reduce(1, *) }

    public init(images: [Float], labels: [Int32], shape: [Int]) {
        self.images = images; self.labels = labels; self.shape = shape
    }

    /// Loads an IDX image file (and optionally its label file), scaling bytes by 1/255.
    /// `limit` keeps the first N examples.
    public static func idx(images path: String, labels labelPath: String?, limit: Int? = nil) throws -> ImageDataset {
        let file = try IDXFile.read(path: path)
        guard file.dimensions.count == 3 else {
            throw AECVError.format("\(path): expected N×H×W images, got dimensions \(file.dimensions)")
        }
        let n = min(file.dimensions[0], limit ?? Int.max)
        let size = file.dimensions[1] * file.dimensions[2]
        let images = file.bytes[0..<(n * size)].map { Float($0) * (1 / 255) }
        var labels: [Int32] = []
        if let labelPath = labelPath {
            let l = try IDXFile.read(path: labelPath)
            guard l.dimensions.count == 1, l.dimensions[0] >= n else {
                throw AECVError.format("\(labelPath): expected \(n) labels, got dimensions \(l.dimensions)")
            }
            labels = l.bytes[0..<n].map { Int32($0) }
        }
        return ImageDataset(images: images, labels: labels, shape: [1, file.dimensions[1], file.dimensions[2]])
    }

    /// Debian's dataset-fashion-mnist location.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Fashion-MNIST's train (60k) or test (10k) split from Debian's package.
    public static func fashionMNIST(train: Bool, limit: Int? = nil,
                                    directory: String = fashionMNISTDirectory) throws -> ImageDataset {
        let prefix = train ? "train" : "t10k"
        return try idx(images: "\(directory)/\(prefix)-images-idx3-ubyte.gz",
                       labels: "\(directory)/\(prefix)-labels-idx1-ubyte.gz", limit: limit)
    }
}
