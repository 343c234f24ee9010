/// When to restart the children after a failure: exponential from `initial`, capped at `cap`, and back
/// to `initial` once they had run healthy for `healthyAfter`. A pure value, tested with plain numbers.
struct RestartBackoff: Equatable {
    var initial: Duration = .milliseconds(100)
    var cap: Duration = .seconds(30)
    var healthyAfter: Duration = .seconds(60)
    private(set) var next: Duration = .milliseconds(100)

    init(initial: Duration = .milliseconds(100), cap: Duration = .seconds(30), healthyAfter: Duration = .seconds(60)) {
        self.initial = initial
        self.cap = cap
        self.healthyAfter = healthyAfter
        self.next = initial
    }

    /// The delay before the next start, given how long the failed run lasted.
    mutating func delay(afterRunOf uptime: Duration) -> Duration {
        if uptime >= healthyAfter { next = initial }
        let delay = next
        next = min(next * 2, cap)
        return delay
    }
}
