#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels
import Synchronization

/// A persistent pool of worker threads for data-parallel loops.
///
/// One `parallelFor` is one parallel region: the caller and the workers take chunk indices
/// from a shared counter until none are left. Workers spin for a short while after a region
/// ends (the next mat-mul usually follows within microseconds) and then sleep, so an idle
/// chat session costs no CPU.
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in a region, the caller included.
    public let threadCount: Int

    private var threads: [pthread_t] = []
    private let generation = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let busyWorkers = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var chunkCount = 0
    private var body: ((Int, Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()

    /// How long a worker spins before it goes to sleep: long enough to bridge the gaps between
    /// the mat-muls of one token, short enough that an idle session sleeps at once. Timed
    /// rather than counted, because a spin step's cost depends on the core: 37 ns with x86's
    /// `pause` on a Zen 2 (2.4 ns without it), while Arm's `yield` is close to a no-op.
    private static let spinSeconds = 200e-6
    /// Spin steps between clock reads.
    private static let spinsPerClockRead = 64

    /// The number of online processors (the default thread count).
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public init(threadCount: Int = ThreadPool.processorCount) {
        self.threadCount = max(1, threadCount)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<self.threadCount {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                let start = Unmanaged<WorkerStart>.fromOpaque(arg!).takeRetainedValue()
                start.pool.workerLoop(index: start.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { threads.append(thread) } else { box.release() }
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&wake)
    }

    /// Runs `body(chunk, thread)` for every chunk in `0..<chunks`, spread over the pool.
    /// `thread` is in `0..<threadCount` and lets a body use per-thread scratch memory.
    public func parallelFor(_ chunks: Int, _ body: (_ chunk: Int, _ thread: Int) -> Void) {
        if chunks <= 0 { return }
        if threads.isEmpty || chunks == 1 {
            for c in 0..<chunks { body(c, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            self.body = escaping
            chunkCount = chunks
            nextChunk.store(0, ordering: .relaxed)
            busyWorkers.store(threads.count, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            runChunks(thread: 0)
            while busyWorkers.load(ordering: .acquiring) > 0 { spinPause() }
            self.body = nil
        }
    }

    private func runChunks(thread: Int) {
        guard let body else { return }
        while true {
            let c = nextChunk.add(1, ordering: .relaxed).oldValue
            if c >= chunkCount { break }
            body(c, thread)
        }
    }

    private func workerLoop(index: Int) {
        // Generation 0 is the pool's state at creation. Reading the current value here instead
        // would let a thread that starts late miss the first region, and its caller wait forever.
        var seen = 0
        while true {
            var spins = 0
            var spinStart = 0.0
            while generation.load(ordering: .acquiring) == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins % ThreadPool.spinsPerClockRead != 0 {
                    spinPause()
                    continue
                }
                let now = Clock.now()
                if spins == ThreadPool.spinsPerClockRead { spinStart = now }
                if now - spinStart < ThreadPool.spinSeconds {
                    spinPause()
                    continue
                }
                sleepers.add(1, ordering: .sequentiallyConsistent)
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .relaxed) {
                    pthread_cond_wait(&wake, &mutex)
                }
                pthread_mutex_unlock(&mutex)
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                spins = 0
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = generation.load(ordering: .acquiring)
            runChunks(thread: index)
            busyWorkers.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerStart {
    let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}

@inline(__always)
private func spinPause() { lr_cpu_relax() }
