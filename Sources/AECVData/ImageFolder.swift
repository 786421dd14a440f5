import AECV

/// A directory tree of .jpg/.jpeg/.png images, in torchvision's deterministic order.
///
/// Plain: every image below `path`, recursively. With `classFolders` (torchvision's
/// `ImageFolder`): each immediate subdirectory is a class, classes sorted by name, label =
/// index of the class; the images of a class are those below its folder. Order, as
/// torchvision's `make_dataset`: directories sorted by path (`sorted(os.walk(...))`), file names
/// sorted within each directory, comparing names by their UTF-8 bytes (Python's code-point
/// order for UTF-8 names).
public struct ImageFolder {
    public var files: [String]
    /// The class of each file (empty without `classFolders`).
    public var labels: [Int32]
    public var classes: [String]

    public init(path: String, classFolders: Bool = false) throws {
        guard Directory.kind(of: path) == .directory else {
            throw AECVError.io("\(path): not a directory")
        }
        files = []; labels = []; classes = []
        if classFolders {
            classes = try Directory.entries(of: path)
                .filter { Directory.kind(of: Directory.join(path, $0)) == .directory }
                .sorted(by: Self.byteOrder)
            guard !classes.isEmpty else {
                throw AECVError.io("\(path): no class subfolders (an image folder with classes has one subfolder per class)")
            }
            for (label, name) in classes.enumerated() {
                let found = try Self.walk(Directory.join(path, name))
                files += found
                labels += [Int32](repeating: Int32(label), count: found.count)
            }
        } else {
            files = try Self.walk(path)
        }
        guard !files.isEmpty else { throw AECVError.io("\(path): no .jpg, .jpeg or .png images in the folder or below") }
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// The image files below `root`, ordered as `sorted(os.walk(root))` then sorted names.
    public static func walk(_ root: String) throws -> [String] {
        var directories: [(path: String, files: [String])] = []
        var pending = [root]
        var visited = 0
        while let directory = pending.popLast() {
            visited += 1
            if visited > 1_000_000 { throw AECVError.io("\(root): more than a million directories (a link loop?)") }
            var images: [String] = []
            for name in try Directory.entries(of: directory) where !name.hasPrefix(".") {
                let full = Directory.join(directory, name)
                switch Directory.kind(of: full) {
                case .directory: pending.append(full)
                case .file where ImageFile.hasImageExtension(name): images.append(full)
                default: break
                }
            }
            directories.append((directory, images.sorted(by: byteOrder)))
        }
        directories.sort { byteOrder($0.path, $1.path) }
        return directories.flatMap { $0.files }
    }
}

/// How an image file becomes a model input: decoded, converted to grey or RGB (Pillow's
/// convert), resized (torchvision's Resize(size) + CenterCrop(size), or an exact width × height,
/// bilinear with antialias as Pillow), then scaled to [0, 1] as float32 (C, H, W).
public struct ImagePreprocessing: Equatable {
    public enum Resize: Equatable {
        /// Keep the size: every image must already have the same one.
        case none
        /// Shorter side to `size`, then the centred size × size crop.
        case shorterSideThenCentreCrop(Int)
        /// Exactly width × height (aspect ratio not kept).
        case exact(width: Int, height: Int)
    }
    public var channels: Int
    public var resize: Resize

    public init(channels: Int, resize: Resize) {
        precondition(channels == 1 || channels == 3)
        self.channels = channels; self.resize = resize
    }

    /// The 8-bit image ready for the model.
    public func prepare(_ image: RasterImage) -> RasterImage {
        let converted = image.converted(channels: channels)
        switch resize {
        case .none: return converted
        case .shorterSideThenCentreCrop(let s): return converted.shorterSideResizedAndCentreCropped(s)
        case .exact(let w, let h):
            return converted.width == w && converted.height == h ? converted : converted.resized(width: w, height: h)
        }
    }

    public func load(_ path: String) throws -> RasterImage { prepare(try ImageFile.read(path: path)) }

    /// The (C, H, W) shape of a prepared image, nil for `.none`.
    public var shape: [Int]? {
        switch resize {
        case .none: return nil
        case .shorterSideThenCentreCrop(let s): return [channels, s, s]
        case .exact(let w, let h): return [channels, h, w]
        }
    }
}

extension RasterImage {
    /// Appends the (1- or 3-channel) image as planar bytes (C, H, W) to `out`.
    public func appendPlanar(to out: inout [UInt8]) {
        precondition(channels == 1 || channels == 3)
        let plane = width * height, start = out.count
        out.append(contentsOf: repeatElement(0, count: channels * plane))
        pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                let base = o.baseAddress! + start
                for i in 0..<plane {
                    for k in 0..<channels { base[k * plane + i] = p[i * channels + k] }
                }
            }
        }
    }

    /// Writes the (1- or 3-channel) image as planar floats pixel / 255 into `out` (C·H·W values).
    public func writePlanar(into out: UnsafeMutablePointer<Float>) {
        precondition(channels == 1 || channels == 3)
        let plane = width * height
        let scale: Float = 1 / 255
        pixels.withUnsafeBufferPointer { p in
            for i in 0..<plane {
                for k in 0..<channels { out[k * plane + i] = Float(p[i * channels + k]) * scale }
            }
        }
    }
}

extension ImageDataset {
    /// Every image of an `ImageFolder`, prepared by `preprocessing`, in memory as bytes (for
    /// sets that fit; `BatchStream` streams the others). With `.none` all images must have one
    /// size. `skipBad`: unreadable images are left out and counted (with the first message)
    /// instead of failing. `limit` keeps the first N files.
    public static func imageFolder(_ folder: ImageFolder, preprocessing: ImagePreprocessing, limit: Int? = nil,
                                   skipBad: Bool = false) throws
        -> (dataset: ImageDataset, files: [String], skipped: Int, firstProblem: String?) {
        let count = min(folder.files.count, limit ?? Int.max)
        return try imageFiles(Array(folder.files.prefix(count)), labels: Array(folder.labels.prefix(count)),
                              preprocessing: preprocessing, skipBad: skipBad)
    }

    /// The image files (and their labels, or []) prepared by `preprocessing`; see `imageFolder`.
    public static func imageFiles(_ paths: [String], labels folderLabels: [Int32] = [],
                                  preprocessing: ImagePreprocessing, skipBad: Bool = false) throws
        -> (dataset: ImageDataset, files: [String], skipped: Int, firstProblem: String?) {
        let count = paths.count
        var images: [UInt8] = []
        // Reserved up front when the size is known: growing by doubling would hold the old and
        // the new buffer at once, twice the set at the last growth (skipped files leave untouched
        // pages, which cost no memory).
        if let s = preprocessing.shape { images.reserveCapacity(count * s.reduce(1, *)) }
        var labels: [Int32] = []
        var files: [String] = []
        var shape: [Int]? = preprocessing.shape
        var skipped = 0
        var firstProblem: String?
        for i in 0..<count {
            let path = paths[i]
            let image: RasterImage
            do {
                image = try preprocessing.load(path)
            } catch let error as AECVError where skipBad {
                skipped += 1
                if firstProblem == nil { firstProblem = error.message }
                continue
            }
            let s = [preprocessing.channels, image.height, image.width]
            if let expected = shape, expected != s {
                throw AECVError.shape("\(path) is \(image.width)×\(image.height) but \(files.first ?? "the first image") is \(expected[2])×\(expected[1]); give --size N to resize every image (shorter side, then centre crop)")
            }
            shape = s
            image.appendPlanar(to: &images)
            if !folderLabels.isEmpty { labels.append(folderLabels[i]) }
            files.append(path)
        }
        guard let final = shape, !files.isEmpty else {
            throw AECVError.format("no image of the folder could be read" + (firstProblem.map { ": \($0)" } ?? ""))
        }
        return (ImageDataset(bytes: images, labels: labels, shape: final), files, skipped, firstProblem)
    }
}
