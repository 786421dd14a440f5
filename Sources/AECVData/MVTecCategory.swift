import AECV

/// One category of the MVTec AD data set, read from its folders as distributed:
///
///     CATEGORY/train/good/*.png                        normal training images
///     CATEGORY/test/good/*.png                         normal test images (no masks: all normal)
///     CATEGORY/test/<defect type>/*.png                defective test images
///     CATEGORY/ground_truth/<defect type>/<name>_mask.png   their masks (0 = normal, 255 = defect)
///
/// Files are listed in the byte order of their names (as `ImageFolder`), defect types sorted by
/// name with "good" first. Every defect image must have its mask, of the image's size; the
/// scan (`init(path:)`) checks that before anything is decoded.
public struct MVTecCategory {
    public static let good = "good"
    /// The layout, for error messages.
    public static let layout = "an MVTec AD category holds train/good/*.png, test/<good|defect type>/*.png "
        + "and ground_truth/<defect type>/<name>_mask.png"

    public var path: String
    public var trainFiles: [String]
    public var testFiles: [String]
    /// The folder name of each test file: "good" or its defect type.
    public var testTypes: [String]
    /// The mask of each test file; nil for good images.
    public var maskFiles: [String?]

    /// The distinct test types, "good" first, then the defect types by name.
    public var types: [String] {
        var seen: [String] = []
        for t in testTypes where !seen.contains(t) { seen.append(t) }
        return seen.sorted { a, b in a == Self.good ? b != Self.good : (b == Self.good ? false : ImageFolder.byteOrder(a, b)) }
    }

    /// Scans the folders. Throws .io naming the missing folder or mask (and the layout expected).
    public init(path: String) throws {
        self.path = path
        func folder(_ parts: String...) throws -> String {
            let p = parts.reduce(path) { Directory.join($0, $1) }
            guard Directory.kind(of: p) == .directory else {
                throw AECVError.io("\(p): no such folder; \(Self.layout)")
            }
            return p
        }
        guard Directory.kind(of: path) == .directory else {
            throw AECVError.io("\(path): not a folder; \(Self.layout)")
        }
        trainFiles = try Self.images(in: folder("train", Self.good))
        let test = try folder("test")
        testFiles = []; testTypes = []; maskFiles = []
        let typeNames = try Directory.entries(of: test)
            .filter { !$0.hasPrefix(".") && Directory.kind(of: Directory.join(test, $0)) == .directory }
            .sorted(by: ImageFolder.byteOrder)
        guard !typeNames.isEmpty else { throw AECVError.io("\(test): no subfolders; \(Self.layout)") }
        let ordered = typeNames.filter { $0 == Self.good } + typeNames.filter { $0 != Self.good }
        for type in ordered {
            let files = try Self.images(in: Directory.join(test, type))
            for file in files {
                testFiles.append(file)
                testTypes.append(type)
                if type == Self.good { maskFiles.append(nil); continue }
                let mask = Self.maskPath(category: path, type: type, image: file)
                guard Directory.kind(of: mask) == .file else {
                    throw AECVError.io("\(mask): missing, the mask of \(file); \(Self.layout)")
                }
                maskFiles.append(mask)
            }
        }
    }

    /// CATEGORY/ground_truth/TYPE/NAME_mask.png for test image …/NAME.png.
    public static func maskPath(category: String, type: String, image: String) -> String {
        var stem = Directory.baseName(image)
        if let dot = stem.lastIndex(of: ".") { stem = String(stem[..<dot]) }
        return Directory.join(Directory.join(Directory.join(category, "ground_truth"), type), stem + "_mask.png")
    }

    /// The image files of one folder (not recursive), sorted; at least one.
    static func images(in folder: String) throws -> [String] {
        let names = try Directory.entries(of: folder)
            .filter { !$0.hasPrefix(".") && ImageFile.hasImageExtension($0) }
            .sorted(by: ImageFolder.byteOrder)
        guard !names.isEmpty else { throw AECVError.io("\(folder): no .png/.jpg images; \(layout)") }
        return names.map { Directory.join(folder, $0) }
    }

    /// Decodes everything at size × size with `channels` (1 or 3): images by Pillow's bilinear
    /// resize with antialias (`ImagePreprocessing`, exact size), masks by nearest neighbour
    /// (`nearestResized`) then binarized (> 127 → 1, else 0). `limit` keeps the first training
    /// images (the test set is always whole). Throws .format for a mask whose size differs from
    /// its image's, and the decoders' errors.
    public func load(size: Int, channels: Int, trainLimit: Int? = nil) throws -> MVTecData {
        guard size >= 1, channels == 1 || channels == 3 else {
            throw AECVError.invalidArgument("size \(size), channels \(channels): need size ≥ 1 and 1 or 3 channels")
        }
        let prep = ImagePreprocessing(channels: channels, resize: .exact(width: size, height: size))
        let train = try ImageDataset.imageFiles(Array(trainFiles.prefix(trainLimit ?? Int.max)), preprocessing: prep).dataset
        // Test images are decoded here rather than by `imageFiles`: their masks are checked
        // against the size before resizing.
        let plane = size * size, exampleSize = channels * plane
        var images = [Float](repeating: 0, count: testFiles.count * exampleSize)
        var masks = [UInt8](repeating: 0, count: testFiles.count * plane)
        for (i, file) in testFiles.enumerated() {
            let raw = try ImageFile.read(path: file)
            images.withUnsafeMutableBufferPointer { prep.prepare(raw).writePlanar(into: $0.baseAddress! + i * exampleSize) }
            guard let maskFile = maskFiles[i] else { continue }
            let mask = try Self.readMask(maskFile, width: raw.width, height: raw.height, image: file, size: size)
            masks.replaceSubrange((i * plane)..<((i + 1) * plane), with: mask)
        }
        let test = ImageDataset(images: images, labels: [], shape: [channels, size, size])
        return MVTecData(train: train, test: test, labels: testTypes.map { $0 == Self.good ? 0 : 1 }, masks: masks,
                         types: testTypes, testFiles: testFiles, size: size)
    }

    /// A mask file as size × size bytes, 0 or 1; it must be width × height, its image's size.
    static func readMask(_ maskFile: String, width: Int, height: Int, image: String, size: Int) throws -> [UInt8] {
        let mask = try ImageFile.read(path: maskFile).converted(channels: 1)
        guard mask.width == width, mask.height == height else {
            throw AECVError.format("\(maskFile): the mask is \(mask.width)×\(mask.height) but its image \(image) is \(width)×\(height)")
        }
        return mask.nearestResized(width: size, height: size).pixels.map { $0 > 127 ? 1 : 0 }
    }
}

/// An MVTec AD category in memory (`MVTecCategory.load`).
public struct MVTecData {
    /// train/good: (N, C, S, S) in [0, 1].
    public var train: ImageDataset
    /// test/*: (M, C, S, S).
    public var test: ImageDataset
    /// Per test image: 0 good, 1 defect.
    public var labels: [UInt8]
    /// (M, S, S): 1 = defect pixel.
    public var masks: [UInt8]
    /// Per test image: "good" or the defect type.
    public var types: [String]
    public var testFiles: [String]
    public var size: Int
}

extension RasterImage {
    /// Pillow's `resize((width, height), NEAREST)`: output pixel (x, y) is the input pixel
    /// (⌊(x + ½)·W/width⌋, ⌊(y + ½)·H/height⌋) — the one under the output pixel's centre — so
    /// a mask keeps its values (no blending of 0 and 255).
    public func nearestResized(width newWidth: Int, height newHeight: Int) -> RasterImage {
        precondition(newWidth > 0 && newHeight > 0)
        if newWidth == width && newHeight == height { return self }
        func source(_ i: Int, _ inSize: Int, _ outSize: Int) -> Int {
            min(inSize - 1, Int((Double(i) + 0.5) * Double(inSize) / Double(outSize)))
        }
        let xs = (0..<newWidth).map { source($0, width, newWidth) }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        for y in 0..<newHeight {
            let sy = source(y, height, newHeight)
            for (x, sx) in xs.enumerated() {
                for c in 0..<channels { out[(y * newWidth + x) * channels + c] = pixels[(sy * width + sx) * channels + c] }
            }
        }
        return RasterImage(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }
}
