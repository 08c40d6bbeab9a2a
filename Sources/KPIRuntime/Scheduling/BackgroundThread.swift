import Dispatch
import Foundation

/// A named thread for kpid's background work (retention runs, rolling KPI rounds, forwarding):
/// its body sleeps with ``pause(_:)``, which `stop()` interrupts, and `stop()` waits for the body
/// to return.
final class BackgroundThread: @unchecked Sendable {
    // @unchecked: `stopping` and `started` are guarded by `condition`.
    private let condition = NSCondition()
    private var stopping = false
    private var started = false
    private let finished = DispatchSemaphore(value: 0)

    /// Runs `body` on a new thread named `name`; it should return once ``isStopping``.
    func start(name: String, _ body: @escaping @Sendable (BackgroundThread) -> Void) {
        condition.lock()
        started = true
        condition.unlock()
        let thread = Thread { [self] in
            body(self)
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Runs `work` every `interval` seconds until stopped, the first time at once when
    /// `immediately`, else after one interval.
    func every(_ interval: TimeInterval, name: String, immediately: Bool, _ work: @escaping @Sendable () -> Void) {
        start(name: name) { thread in
            if immediately { work() }
            while !thread.pause(interval) { work() }
        }
    }

    var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Sleeps up to `seconds`; true (at once) when asked to stop.
    func pause(_ seconds: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(seconds)
        while !stopping, Date() < deadline { _ = condition.wait(until: deadline) }
        return stopping
    }

    /// Asks the body to stop, wakes its pause, and waits for it to return. Idempotent.
    func stop() {
        condition.lock()
        let wait = started && !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if wait { finished.wait() }
    }
}
