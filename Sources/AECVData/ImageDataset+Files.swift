#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import AECV

/// Loading image sets from .npy files (folders of JPEG/PNG images: ImageFolder.swift).
extension ImageDataset {
    /// A .npy array of uint8 (kept as bytes, value / 255) or float32 (taken as is), shaped N×H×W (one
    /// channel) or N×C×H×W. `limit` keeps the first N examples.
    public static func npy(path: String, limit: Int? = nil) throws -> ImageDataset {
        let array = try NPYArray.read(path: path)
        let shape: [Int]
        switch array.shape.count {
        case 3: shape = [1, array.shape[1], array.shape[2]]
        case 4: shape = [array.shape[1], array.shape[2], array.shape[3]]
        default:
            throw AECVError.format("\(path): expected an N×H×W or N×C×H×W array, got shape \(array.shape)")
        }
        let size = shape.reduce(1, *)
        guard array.shape[0] >= 1, size >= 1 else {
            throw AECVError.format("\(path): the array of shape \(array.shape) holds no images")
        }
        let n = min(array.shape[0], limit ?? Int.max)
        switch array.elements {
        case .uint8(let bytes):
            return ImageDataset(bytes: Array(bytes[0..<(n * size)]), labels: [], shape: shape)
        case .float32(let values):
            let images = Array(values[0..<(n * size)])
            if let bad = images.firstIndex(where: { !$0.isFinite }) {
                throw AECVError.format("\(path): image \(bad / size) contains NaN or Inf")
            }
            return ImageDataset(images: images, labels: [], shape: shape)
        }
    }
}

/// Directory listing and path helpers on POSIX, without Foundation.
public enum Directory {
    /// Names in the directory (no "." or ".."), unsorted.
    public static func entries(of path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw AECVError.io("\(path): cannot open directory: \(FileIO.describeErrno(errno))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let end = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: bytes[0..<end], as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public enum Kind { case missing, file, directory, other }

    public static func kind(of path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        default: return .other
        }
    }

    /// Creates the directory (and its parents) if it does not exist.
    public static func create(_ path: String) throws {
        if kind(of: path) == .directory { return }
        let parent = parentOf(path)
        if parent != path, !parent.isEmpty, kind(of: parent) == .missing { try create(parent) }
        if mkdir(path, 0o777) != 0 && errno != EEXIST {
            throw AECVError.io("\(path): cannot create directory: \(FileIO.describeErrno(errno))")
        }
    }

    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// "a/b" of "a/b/c"; "." for a bare name.
    public static func parentOf(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    /// "c.png" of "a/b/c.png".
    public static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
