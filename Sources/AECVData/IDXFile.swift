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

    /// Reads the header, then exactly the bytes it declares (of the first `limit` items along
    /// the first dimension, when given), streaming through zlib's gz reader (which passes
    /// uncompressed files through unchanged). The size is checked against `maxBytes` BEFORE
    /// anything is allocated or inflated: a small gzip "bomb" that inflates to gigabytes is
    /// refused from its header, or read only as far as its header and `limit` say. The returned
    /// `dimensions[0]` is the number of items read.
    public static func read(path: String, limit: Int? = nil) throws -> IDXFile {
        guard let file = gzopen(path, "rb") else {
            throw AECVError.io("\(path): cannot open")
        }
        defer { gzclose(file) }
        func readExactly(_ count: Int, into buffer: inout [UInt8], at offset: Int = 0) throws -> Int {
            var got = 0
            while got < count {
                let n = buffer.withUnsafeMutableBytes {
                    gzread(file, $0.baseAddress! + offset + got, UInt32(min(count - got, 1 << 30)))
                }
                if n < 0 { throw AECVError.format("\(path): corrupt gzip stream") }
                if n == 0 { break }
                got += Int(n)
            }
            return got
        }
        var head = [UInt8](repeating: 0, count: 4)
        if try readExactly(4, into: &head) < 4 || head[0] != 0 || head[1] != 0 {
            throw AECVError.format("\(path): not an IDX file (bad magic)")
        }
        if head[2] != 0x08 {
            throw AECVError.format("\(path): IDX element type 0x\(String(head[2], radix: 16)) is not supported (uint8 only)")
        }
        let rank = Int(head[3])
        var dimBytes = [UInt8](repeating: 0, count: 4 * max(rank, 1))
        let dimsRead = rank >= 1 && rank <= 4 ? try readExactly(4 * rank, into: &dimBytes) : 0
        if rank < 1 || rank > 4 || dimsRead < 4 * rank {
            throw AECVError.format("\(path): IDX rank \(rank) is invalid or the header is truncated")
        }
        var dims: [Int] = []
        for i in 0..<rank {
            let o = 4 * i
            dims.append(Int(dimBytes[o]) << 24 | Int(dimBytes[o + 1]) << 16 | Int(dimBytes[o + 2]) << 8 | Int(dimBytes[o + 3]))
        }
        if let limit { dims[0] = min(dims[0], max(limit, 0)) }
        var total = 1
        for d in dims { total = total.multipliedReportingOverflow(by: d).overflow ? Int.max : total * d }
        if total > maxBytes {
            throw AECVError.format("\(path): IDX dimensions \(dims) need \(total) bytes, more than the limit of \(maxBytes)")
        }
        // Grown as the data arrives (64 MiB at a time), not allocated from the header: a header
        // that promises more than the stream holds costs only what the stream really inflates to.
        try MemoryCheck.require(total, "IDX data of \(path)")
        var bytes: [UInt8] = []
        var got = 0
        while got < total {
            let step = min(total - got, 64 << 20)
            bytes += [UInt8](repeating: 0, count: step)
            let n = try readExactly(step, into: &bytes, at: got)
            got += n
            if n < step { break }
        }
        if got < total {
            throw AECVError.format("\(path): IDX dimensions \(dims) need \(total) bytes, file has \(got)")
        }
        return IDXFile(dimensions: dims, bytes: bytes)
    }
}

/// A labelled image set in memory, NCHW with values in [0, 1].
///
/// Images that come as bytes (IDX, uint8 .npy, JPEG and PNG) stay bytes, value = byte / 255, and
/// become float32 one batch at a time (`copyValues`, `copyExample`): 100,000 RGB images of
/// 128×128 take 4.9 GB instead of 19.7 GB. A float32 .npy stays float32.
public struct ImageDataset {
    /// The examples' values, example after example.
    public enum Pixels {
        /// value = byte / 255
        case bytes([UInt8])
        case floats([Float])

        public var count: Int {
            switch self {
            case .bytes(let b): return b.count
            case .floats(let f): return f.count
            }
        }
    }
    public private(set) var pixels: Pixels
    public var labels: [Int32]
    /// [C, H, W]
    public var shape: [Int]
    public var count: Int { shape.isEmpty || exampleSize == 0 ? 0 : pixels.count / exampleSize }
    public var exampleSize: Int { shape.reduce(1, *) }

    public init(images: [Float], labels: [Int32], shape: [Int]) {
        self.pixels = .floats(images); self.labels = labels; self.shape = shape
    }

    /// Images as bytes, value = byte / 255.
    public init(bytes: [UInt8], labels: [Int32], shape: [Int]) {
        self.pixels = .bytes(bytes); self.labels = labels; self.shape = shape
    }

    /// The whole set as float32 (allocates count × exampleSize floats; loops over batches use
    /// `copyValues` instead).
    public func floats() -> [Float] {
        switch pixels {
        case .floats(let f): return f
        case .bytes(let b): return b.map { Float($0) * (1 / 255) }
        }
    }

    /// Values offset..<offset+count of the flat set, as float32, into `out`.
    public func copyValues(from offset: Int, count n: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(offset >= 0 && n >= 0 && offset + n <= pixels.count)
        switch pixels {
        case .floats(let f):
            f.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + offset, count: n) }
        case .bytes(let b):
            b.withUnsafeBufferPointer { src in
                let p = src.baseAddress! + offset
                for i in 0..<n { out[i] = Float(p[i]) * (1 / 255) }
            }
        }
    }

    /// Example `index` (exampleSize values) as float32 into `out`.
    public func copyExample(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        copyValues(from: index * exampleSize, count: exampleSize, into: out)
    }

    /// Examples first..<first+count as a flat float32 array.
    public func slice(_ first: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * exampleSize)
        out.withUnsafeMutableBufferPointer { copyValues(from: first * exampleSize, count: $0.count, into: $0.baseAddress!) }
        return out
    }

    /// The examples `indices` (and their labels, when the set has them), in the same storage.
    public func subset(_ indices: [Int]) -> ImageDataset {
        let size = exampleSize
        var out = self
        switch pixels {
        case .bytes(let b):
            var picked = [UInt8](); picked.reserveCapacity(indices.count * size)
            for i in indices { picked += b[(i * size)..<((i + 1) * size)] }
            out.pixels = .bytes(picked)
        case .floats(let f):
            var picked = [Float](); picked.reserveCapacity(indices.count * size)
            for i in indices { picked += f[(i * size)..<((i + 1) * size)] }
            out.pixels = .floats(picked)
        }
        out.labels = labels.isEmpty ? [] : indices.map { labels[$0] }
        return out
    }

    /// Keeps the first `count` examples (and labels).
    public mutating func truncate(to count: Int) {
        guard count < self.count else { return }
        let end = count * exampleSize
        switch pixels {
        case .bytes(var b): pixels = .floats([]); b.removeSubrange(end...); pixels = .bytes(b)
        case .floats(var f): pixels = .bytes([]); f.removeSubrange(end...); pixels = .floats(f)
        }
        if labels.count > count { labels.removeSubrange(count...) }
    }

    /// Loads an IDX image file (and optionally its label file); the bytes stay bytes (value / 255).
    /// `limit` keeps the first N examples.
    public static func idx(images path: String, labels labelPath: String?, limit: Int? = nil) throws -> ImageDataset {
        let file = try IDXFile.read(path: path, limit: limit)
        guard file.dimensions.count == 3 else {
            throw AECVError.format("\(path): expected N×H×W images, got dimensions \(file.dimensions)")
        }
        let n = min(file.dimensions[0], limit ?? Int.max)
        let size = file.dimensions[1] * file.dimensions[2]
        let images = Array(file.bytes[0..<(n * size)])
        var labels: [Int32] = []
        if let labelPath = labelPath {
            let l = try IDXFile.read(path: labelPath, limit: n)
            guard l.dimensions.count == 1, l.dimensions[0] >= n else {
                throw AECVError.format("\(labelPath): expected \(n) labels, got dimensions \(l.dimensions)")
            }
            labels = l.bytes[0..<n].map { Int32($0) }
        }
        return ImageDataset(bytes: images, labels: labels, shape: [1, file.dimensions[1], file.dimensions[2]])
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
