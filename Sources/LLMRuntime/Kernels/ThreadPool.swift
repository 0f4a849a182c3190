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
/// from a shared counter until none are left, and the region ends when every chunk is done.
/// A worker that never got a core during the region is not waited for: the counter carries the
/// region's number, so it cannot take a chunk of a region that has moved on. (Waiting for every
/// worker to check in made each region last until the scheduler ran all of them, which on a
/// box with other busy processes cost most of the speed.) Workers spin for a short while after
/// a region ends (the next mat-mul usually follows within microseconds) and then sleep, so an
/// idle chat session costs no CPU.
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in a region, the caller included.
    public let threadCount: Int

    private var threads: [pthread_t] = []
    private let generation = Atomic<Int>(0)
    /// The region being handed out: `first` its generation, `second` its chunk count (high 32
    /// bits) and the next chunk to take (low 32 bits). One word pair, so that taking a chunk
    /// checks the region in the same compare-and-swap.
    private let claims = Atomic<WordPair>(WordPair(first: 0, second: 0))
    /// Chunks of the current region finished.
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The current region's body; set before its claims are published, cleared once every
    /// chunk is finished (a worker only reads it holding a claimed chunk).
    private var body: ((Int, Int) -> Void)?
    /// Chunk indices fit the claim word's 32 bits; larger loops run as several regions.
    private static let maxChunksPerRegion = Int(UInt32.max)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()

    /// How long a worker spins before it goes to sleep: long enough to bridge the gaps between
    /// the mat-muls of one token, short enough that an idle session sleeps at once. Timed
    /// rather than counted, because a spin step's cost depends on the core: 37 ns with x86's
    /// `pause` on a Zen 2 (2.4 ns without it), while Arm's `yield` is close to a no-op.
    private static let spinSeconds = 200e-6
    /// Spin steps between clock reads.
    private static let spinsPerClockRead = 64
    /// Spin steps before a waiting thread starts yielding its core at each step instead (about
    /// 40 µs on a Zen 2, less on Arm). When the box runs more threads than it has cores, the
    /// thread being waited for may be the one without a core, and a pure spin keeps it off.
    /// Beside a two-thread job on two cores, SmolLM2 generation at -t 2: 12.4 t/s with pure
    /// spins and regions that waited for every worker, 60 with yields alone, 100–137 with yields
    /// and regions that end when their chunks are done. Without contention a yield returns at once.
    fileprivate static let spinsBeforeYield = 1024

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
        if chunks > ThreadPool.maxChunksPerRegion {
            for start in stride(from: 0, to: chunks, by: ThreadPool.maxChunksPerRegion) {
                let count = min(ThreadPool.maxChunksPerRegion, chunks - start)
                parallelFor(count) { c, t in body(start + c, t) }
            }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            self.body = escaping
            finished.store(0, ordering: .relaxed)
            let region = generation.load(ordering: .relaxed) + 1
            claims.store(WordPair(first: UInt(region), second: UInt(chunks) << 32), ordering: .releasing)
            generation.store(region, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            runChunks(of: region, thread: 0)
            var spins = 0
            while finished.load(ordering: .acquiring) < chunks {
                spins += 1
                spinOrYield(spins)
            }
            self.body = nil
        }
    }

    /// Takes and runs chunks of region `region` until none are left or the region is over.
    private func runChunks(of region: Int, thread: Int) {
        var current = claims.load(ordering: .acquiring)
        while current.first == UInt(region) {
            let next = current.second & 0xffff_ffff, count = current.second >> 32
            if next >= count { return }
            let desired = WordPair(first: current.first, second: current.second + 1)
            let (taken, seen) = claims.compareExchange(expected: current, desired: desired, ordering: .acquiring)
            if !taken {
                current = seen
                continue
            }
            // Holding a claimed chunk, the region cannot end: its body is still set.
            body?(Int(next), thread)
            finished.add(1, ordering: .releasing)
            current = claims.load(ordering: .acquiring)
        }
    }

    private func workerLoop(index: Int) {
        // Generation 0 is the pool's state at creation. Reading the current value here instead
        // would let a thread that starts late sleep through the first region (harmless now that
        // regions do not wait for workers, but it would sit the region out).
        var seen = 0
        while true {
            var spins = 0
            var spinStart = 0.0
            while generation.load(ordering: .acquiring) == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins % ThreadPool.spinsPerClockRead != 0 {
                    spinOrYield(spins)
                    continue
                }
                let now = Clock.now()
                if spins == ThreadPool.spinsPerClockRead { spinStart = now }
                if now - spinStart < ThreadPool.spinSeconds {
                    spinOrYield(spins)
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
            runChunks(of: seen, thread: index)
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

/// One step of a wait: a pause while the wait is young, then a yield of the core.
@inline(__always)
private func spinOrYield(_ spins: Int) {
    if spins < ThreadPool.spinsBeforeYield { lr_cpu_relax() } else { sched_yield() }
}
