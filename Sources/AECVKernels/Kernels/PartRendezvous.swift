#if canImport(Glibc)
import Glibc
#endif

/// Where the parts of one split batch meet mid-computation to share per-part sums: BatchNorm's
/// training statistics span the whole batch, so each part publishes its sums, waits for the others
/// and then reads all of them (`exchange`). Only valid while the parts run at the same time, each
/// on its own thread (`WorkerPool.runTogether`); otherwise the first part to arrive would wait for
/// a part that runs after it.
///
/// Every part must call `exchange` the same number of times in the same order (they run the same
/// network). The table of published pointers is double-buffered by episode: a part can only reach
/// episode e + 2, which reuses episode e's table, after every part has passed episode e + 1, that
/// is after every part has finished reading episode e.
package final class PartRendezvous {
    package let parts: Int
    private var mutex = pthread_mutex_t()
    private var arrivedAll = pthread_cond_t()
    private var arrived = 0
    private var episode = 0
    private let tables: UnsafeMutablePointer<UnsafePointer<Double>?>

    package init(parts: Int) {
        precondition(parts >= 1)
        self.parts = parts
        tables = .allocate(capacity: 2 * parts)
        tables.initialize(repeating: nil, count: 2 * parts)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&arrivedAll, nil)
    }

    deinit {
        pthread_cond_destroy(&arrivedAll)
        pthread_mutex_destroy(&mutex)
        tables.deallocate()
    }

    /// Publishes `values` as part `part`'s contribution and returns, once every part has
    /// published, the table of all parts' pointers (index = part). Other parts may read `values`
    /// until they reach the next `exchange`: write the next contribution to a different buffer.
    package func exchange(part: Int, _ values: UnsafePointer<Double>) -> UnsafePointer<UnsafePointer<Double>?> {
        pthread_mutex_lock(&mutex)
        let mine = episode
        let table = tables + (mine & 1) * parts
        table[part] = values
        arrived += 1
        if arrived == parts {
            arrived = 0
            episode &+= 1
            pthread_cond_broadcast(&arrivedAll)
        } else {
            while episode == mine { pthread_cond_wait(&arrivedAll, &mutex) }
        }
        pthread_mutex_unlock(&mutex)
        return UnsafePointer(table)
    }
}
