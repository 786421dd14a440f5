#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import AECVKernels
import AECVTasks

/// Whole-file reads and atomic whole-file writes on POSIX, without Foundation.
public enum FileIO {
    /// Reads the whole file.
    /// - Throws: `AECVError.io` naming the path and the system error when the file is missing,
    ///   unreadable or a directory; `AECVError.format` when it is larger than `maxBytes`.
    public static func readAll(path: String, maxBytes: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open", path) }
        defer { _ = close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("cannot stat", path) }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR { throw AECVError.io("cannot read \"\(path)\": \(describeErrno(EISDIR))") }
        var expected = 0
        if kind == S_IFREG {
            let size = Int(info.st_size)
            if size > maxBytes {
                throw AECVError.format("\"\(path)\" is \(size) bytes, larger than the limit of \(maxBytes)")
            }
            expected = size
        }

        // Read until EOF (the size is a hint: files may change, pipes have none).
        try MemoryCheck.require(expected + 1, "reading \"\(path)\"")
        var bytes = [UInt8](repeating: 0, count: max(expected, 0) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                if count > maxBytes {
                    throw AECVError.format("\"\(path)\" is larger than the limit of \(maxBytes) bytes")
                }
                bytes.append(contentsOf: repeatElement(0, count: max(count, 65536)))
            }
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + count, buffer.count - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot read", path)
            }
            if n == 0 { break }
            count += n
        }
        if count > maxBytes {
            throw AECVError.format("\"\(path)\" is larger than the limit of \(maxBytes) bytes")
        }
        bytes.removeSubrange(count...)
        return bytes
    }

    /// Replaces the file at `path` with `bytes` atomically: the data goes to a temporary file
    /// `.<name>.tmp.XXXXXX` in the same directory (mkstemp), which is fsynced and renamed over
    /// the target; then the directory is fsynced. On any failure the temporary file is removed and
    /// an existing file at `path` is left intact. A new file gets mode 0666 minus the umask; a
    /// replaced file keeps its mode.
    ///
    /// The target is checked with lstat first:
    /// - a symbolic link is followed (up to 40 links) and the file it names is replaced, in that
    ///   file's directory; the link stays a link;
    /// - a directory, character or block device, FIFO or socket is refused: renaming over it
    ///   would replace e.g. /dev/null with a regular file;
    /// - the temporary name never exceeds NAME_MAX (255 bytes): for long names it keeps only a
    ///   prefix of the target's name.
    /// - Throws: `AECVError.io` naming the path and the system error or the kind of file.
    public static func writeAtomically(path: String, bytes: [UInt8]) throws {
        guard !path.isEmpty else { throw AECVError.io("cannot write \"\": empty path") }
        guard path.utf8.last != UInt8(ascii: "/") else {
            throw AECVError.io("cannot write \"\(path)\": \(describeErrno(EISDIR))")
        }
        let (target, existing) = try resolveTarget(path)
        let (directory, name) = split(target)
        var template = temporaryTemplate(directory: directory, name: name)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else { throw ioError("cannot create a temporary file for", path) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var isOpen = true
        do {
            // mkstemp creates 0600; give the file the mode it would have had.
            let mode: mode_t = existing.map { $0.st_mode & 0o7777 } ?? (0o666 & ~currentUmask())
            _ = fchmod(fd, mode)

            try bytes.withUnsafeBytes { buffer in
                var written = 0
                while written < buffer.count {
                    guard let base = buffer.baseAddress else { break }
                    let n = write(fd, base + written, buffer.count - written)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ioError("cannot write", path)
                    }
                    if n == 0 { throw AECVError.io("cannot write \"\(path)\": no progress") }
                    written += n
                }
            }
            guard fsync(fd) == 0 else { throw ioError("cannot sync", path) }
            isOpen = false
            guard close(fd) == 0 else { throw ioError("cannot close", path) }
            // The template's bytes, not a String round trip: a name truncated inside a UTF-8
            // sequence must still name the file mkstemp created.
            let renamed = template.withUnsafeBufferPointer { rename($0.baseAddress!, target) }
            guard renamed == 0 else { throw ioError("cannot replace", path) }
        } catch {
            let saved = errno
            if isOpen { _ = close(fd) }
            _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
            errno = saved
            throw error
        }
        // The rename is durable only once the directory entry is on disk. Some file systems
        // refuse fsync on directories (EINVAL); the data itself is already synced then.
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            let result = fsync(dfd)
            let saved = errno
            _ = close(dfd)
            if result != 0 && saved != EINVAL && saved != EROFS {
                throw AECVError.io("cannot sync the directory of \"\(path)\": \(describeErrno(saved))")
            }
        }
    }

    /// The file a save to `path` replaces: `path` itself, or the end of its chain of symbolic
    /// links; with its stat when it exists. Refuses anything but a regular file or a new name.
    public static func resolveTarget(_ path: String) throws -> (String, stat?) {
        var current = path
        for _ in 0...40 {
            var info = stat()
            if lstat(current, &info) != 0 {
                if errno == ENOENT { return (current, nil) }
                throw ioError("cannot examine", path)
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                return (current, info)
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(current, &buffer, buffer.count - 1)
                guard n > 0 else { throw ioError("cannot read the symbolic link", current) }
                let link = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                current = link.hasPrefix("/") ? link : "\(split(current).0)/\(link)"
            default:
                let shown = current == path ? "\"\(path)\"" : "\"\(path)\" (which links to \"\(current)\")"
                throw AECVError.io("cannot write \(shown): it is \(kindName(info.st_mode)), not a regular file; "
                                   + "saving replaces a file atomically and never writes to special files")
            }
        }
        throw AECVError.io("cannot write \"\(path)\": \(describeErrno(ELOOP))")
    }

    /// "a directory", "a character device", ... for a stat mode.
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }

    /// "<directory>/.<name>.tmp.XXXXXX" as a NUL-terminated mkstemp template whose last
    /// component fits NAME_MAX (255 bytes): a long name is cut to fit (a 250-byte name is legal,
    /// and its temporary must be too).
    static func temporaryTemplate(directory: String, name: String) -> [CChar] {
        let suffix = Array(".tmp.XXXXXX".utf8)
        let room = 255 - 1 - suffix.count
        let kept = Array(name.utf8.prefix(room))
        let component = [UInt8(ascii: ".")] + kept + suffix
        let bytes = Array(directory.utf8) + [UInt8(ascii: "/")] + component
        return bytes.map { CChar(bitPattern: $0) } + [0]
    }

    /// The system's text for an errno value.
    public static func describeErrno(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    private static func ioError(_ what: String, _ path: String) -> AECVError {
        .io("\(what) \"\(path)\": \(describeErrno(errno))")
    }

    /// ("dir", "name") of a path; the directory of a bare name is ".".
    static func split(_ path: String) -> (String, String) {
        let bytes = Array(path.utf8)
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return (".", path) }
        let name = String(decoding: bytes[(slash + 1)...], as: UTF8.self)
        let directory = slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self)
        return (directory, name)
    }

    /// The process umask, read from /proc (changing it to read it would race other threads).
    private static func currentUmask() -> mode_t {
        guard let status = try? readAll(path: "/proc/self/status", maxBytes: 1 << 16) else { return 0o022 }
        let text = String(decoding: status, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("Umask:") {
            let digits = line.dropFirst("Umask:".count).filter { $0 != " " && $0 != "\t" }
            if let value = mode_t(digits, radix: 8) { return value & 0o777 }
        }
        return 0o022
    }
}
