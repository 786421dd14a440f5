#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Ctrl-C (SIGINT) and SIGTERM during long work: the handler only sets an atomic flag, which
/// the training loop checks between steps to save a checkpoint and exit. A second signal
/// ends the process at once (exit status 130).
enum Interrupt {
    static let flag = Atomic<Bool>(false)

    static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            if Interrupt.flag.exchange(true, ordering: .sequentiallyConsistent) {
                _exit(130)
            }
            // Only async-signal-safe calls here: write(2) of a static string.
            let message: StaticString =
                "\naecv: interrupted: finishing the step and saving (press Ctrl-C again to quit without saving)\n"
            _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    static var requested: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
