import Foundation

/// A seeded pseudo-random generator: xoshiro256** (Blackman and Vigna), its state filled by
/// SplitMix64 from one 64-bit seed. The same seed gives the same sequence on every platform.
public struct FixtureRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64
    private var spareGauss: Double? = nil

    /// A generator whose whole sequence follows from `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&x)
        s1 = splitMix(&x)
        s2 = splitMix(&x)
        s3 = splitMix(&x)
    }

    /// A generator for one site: the seed mixed with the FNV-1a hash of the site id, so every
    /// site draws its own sequence and adding a site changes no other.
    public init(seed: UInt64, site: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in site.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        self.init(seed: seed ^ h)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func random() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * random() }

    /// Uniform integer in [0, n).
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

    /// Uniform integer in [a, b] (both included).
    mutating func int(_ a: Int, _ b: Int) -> Int { a + below(b - a + 1) }

    mutating func choice<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Normal with mean `mu` and standard deviation `sigma` (Box-Muller, the spare value kept).
    mutating func gauss(_ mu: Double, _ sigma: Double) -> Double {
        if let z = spareGauss {
            spareGauss = nil
            return mu + sigma * z
        }
        var u = random()
        while u <= 0 { u = random() }
        let v = random()
        let r = (-2 * Foundation.log(u)).squareRoot()
        spareGauss = r * sin(2 * Double.pi * v)
        return mu + sigma * r * cos(2 * Double.pi * v)
    }

    /// Exponential with the given rate (mean 1 / rate).
    mutating func expovariate(_ rate: Double) -> Double {
        var u = random()
        while u <= 0 { u = random() }
        return -Foundation.log(u) / rate
    }

    mutating func lognormal(_ median: Double, _ sigma: Double) -> Double { median * exp(gauss(0, sigma)) }

    /// Poisson with mean `lambda` (Knuth's product method; a rounded normal above 40).
    mutating func poisson(_ lambda: Double) -> Int {
        if lambda <= 0 { return 0 }
        if lambda > 40 { return max(0, Int((gauss(lambda, lambda.squareRoot())).rounded())) }
        let limit = exp(-lambda)
        var k = 0
        var p = 1.0
        while true {
            p *= random()
            if p <= limit { return k }
            k += 1
        }
    }

    /// Binomial: `n` trials with success probability `p`.
    mutating func binomial(_ n: Int, _ p: Double) -> Int {
        if n > 200 {
            let mean = Double(n) * p
            let sd = (mean * (1 - p)).squareRoot()
            return min(n, max(0, Int(gauss(mean, sd).rounded())))
        }
        var k = 0
        for _ in 0..<max(0, n) where random() < p { k += 1 }
        return k
    }
}

/// A Gaussian bump centred on `center` with width `width`.
@inline(__always) func bump(_ h: Double, _ center: Double, _ width: Double) -> Double {
    exp(-((h - center) * (h - center)) / (2 * width * width))
}
