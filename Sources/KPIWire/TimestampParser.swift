import KPICore
/// RFC 3339 and Prometheus-API time parsing and formatting, in milliseconds since the Unix epoch.
///
/// The calendar math is done here (proleptic Gregorian, days-from-civil) rather than with
/// Foundation's formatters, which are slow and depend on locale and time-zone settings.
public enum TimestampParser {
    /// Parses an RFC 3339 timestamp such as `2026-11-02T08:00:00Z` or
    /// `2026-11-02T08:00:00.123+01:00` into milliseconds since the epoch.
    ///
    /// `t`/`z` may be lower case and a space may separate date and time (RFC 3339 §5.6 note).
    /// Fractional seconds beyond milliseconds are truncated; a leap second (`:60`) is clamped
    /// to `:59`. Returns nil for anything malformed or out of range (month, day of month
    /// including leap years, hour, minute, second, offset).
    public static func parseRFC3339(_ s: Substring) -> Int64? {
        var text = s
        if let result = text.utf8.withContiguousStorageIfAvailable({ parseRFC3339($0, 0, $0.count) }) {
            return result
        }
        text.makeContiguousUTF8()
        return text.utf8.withContiguousStorageIfAvailable { parseRFC3339($0, 0, $0.count) } ?? nil
    }

    /// Parses an API time parameter (`start`, `end`, `time`): RFC 3339, or Unix seconds as a
    /// decimal number like Prometheus' HTTP API accepts (`1762070400`, `1762070400.5`,
    /// `-1.25`, `1.7620704e9`). Sub-millisecond fractions are rounded to the nearest
    /// millisecond. Returns milliseconds, or nil when malformed or outside the Int64 range.
    public static func parseAPITime(_ s: String) -> Int64? {
        var text = s
        text.makeContiguousUTF8()
        return text.utf8.withContiguousStorageIfAvailable { bytes -> Int64? in
            if let ms = parseRFC3339(bytes, 0, bytes.count) { return ms }
            return parseSecondsAsMillis(bytes, 0, bytes.count)
        } ?? nil
    }

    /// Formats milliseconds since the epoch as `2026-11-02T08:00:00.000Z` (always UTC, always
    /// three fraction digits).
    public static func formatRFC3339(_ ms: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        appendRFC3339(&out, ms)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the `formatRFC3339` text to `out`.
    public static func appendRFC3339(_ out: inout [UInt8], _ ms: Int64) {
        // Floor division: times before 1970 still have a non-negative time of day.
        let (days, msOfDay) = floorDivMod(ms, 86_400_000)
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        if year < 0 {
            out.append(UInt8(ascii: "-"))
            appendPadded(&out, -year, width: 4)
        } else {
            appendPadded(&out, year, width: 4)
        }
        out.append(UInt8(ascii: "-"))
        appendPadded(&out, Int64(month), width: 2)
        out.append(UInt8(ascii: "-"))
        appendPadded(&out, Int64(day), width: 2)
        out.append(UInt8(ascii: "T"))
        appendPadded(&out, msOfDay / 3_600_000, width: 2)
        out.append(UInt8(ascii: ":"))
        appendPadded(&out, msOfDay / 60_000 % 60, width: 2)
        out.append(UInt8(ascii: ":"))
        appendPadded(&out, msOfDay / 1000 % 60, width: 2)
        out.append(UInt8(ascii: "."))
        appendPadded(&out, msOfDay % 1000, width: 3)
        out.append(UInt8(ascii: "Z"))
    }

    // MARK: Internals

    @inline(__always)
    static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b
        var r = a % b
        if r < 0 { q -= 1; r += b }
        return (q, r)
    }

    private static func appendPadded(_ out: inout [UInt8], _ value: Int64, width: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = value.magnitude
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                buf[n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            } while v > 0
            while n < width { buf[n] = UInt8(ascii: "0"); n += 1 }
            while n > 0 { n -= 1; out.append(buf[n]) }
        }
    }

    /// Parses `bytes[start..<end]` as RFC 3339. Internal entry point for the decoders.
    static func parseRFC3339(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        // Shortest form: "YYYY-MM-DDTHH:MM:SSZ" (20 bytes).
        guard end - start >= 20 else { return nil }
        var i = start
        @inline(__always) func digits(_ count: Int) -> Int? {
            guard i + count <= end else { return nil }
            var v = 0
            for k in 0..<count {
                let d = bytes[i + k] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            i += count
            return v
        }
        @inline(__always) func expect(_ c: UInt8) -> Bool {
            guard i < end, bytes[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")),
              let month = digits(2), expect(UInt8(ascii: "-")),
              let day = digits(2)
        else { return nil }
        guard i < end, bytes[i] == UInt8(ascii: "T") || bytes[i] == UInt8(ascii: "t") || bytes[i] == UInt8(ascii: " ")
        else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")),
              let minute = digits(2), expect(UInt8(ascii: ":")),
              var second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilCalendar.daysInMonth(year: Int64(year), month: month),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        if second == 60 { second = 59 }
        var millis = 0
        if i < end && bytes[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < end, case let d = bytes[i] &- UInt8(ascii: "0"), d < 10 {
                if count < 3 { millis = millis * 10 + Int(d) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { millis *= 10 }
        }
        guard i < end else { return nil }
        var offsetMinutes = 0
        switch bytes[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let negative = bytes[i] == UInt8(ascii: "-")
            i += 1
            guard let oh = digits(2), expect(UInt8(ascii: ":")), let om = digits(2), oh <= 23, om <= 59 else { return nil }
            offsetMinutes = (oh * 60 + om) * (negative ? -1 : 1)
        default:
            return nil
        }
        guard i == end else { return nil }
        let dayCount = CivilCalendar.days(year: Int64(year), month: month, day: day)
        let seconds = dayCount * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }

    /// Unix seconds as decimal text -> milliseconds, rounding half away from zero at the
    /// millisecond. Plain `[+-]digits[.digits]` is converted exactly; exponent forms go through
    /// Double (as Prometheus does for all of them).
    static func parseSecondsAsMillis(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        guard start < end, FloatParser.isDecimal(bytes, start, end, allowLeadingPlus: true) else { return nil }
        var i = start
        var negative = false
        if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var hasExponent = false
        for k in i..<end where bytes[k] | 0x20 == UInt8(ascii: "e") { hasExponent = true }
        if hasExponent {
            guard let seconds = FloatParser.convertDecimal(bytes, start, end) else { return nil }
            let ms = (seconds * 1000).rounded(.toNearestOrAwayFromZero)
            guard ms > -9.2e18, ms < 9.2e18 else { return nil }
            return Int64(ms)
        }
        var whole: Int64 = 0
        while i < end, case let d = bytes[i] &- UInt8(ascii: "0"), d < 10 {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            whole = s
            i += 1
        }
        var fraction: Int64 = 0
        var count = 0
        var roundUp = false
        if i < end && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < end {
                let d = Int64(bytes[i] &- UInt8(ascii: "0"))
                if count < 3 { fraction = fraction * 10 + d } else if count == 3 { roundUp = d >= 5 }
                count += 1
                i += 1
            }
            for _ in count..<max(count, 3) { fraction *= 10 }
        }
        let (wholeMs, o1) = whole.multipliedReportingOverflow(by: 1000)
        let (sum, o2) = wholeMs.addingReportingOverflow(fraction + (roundUp ? 1 : 0))
        if o1 || o2 { return nil }
        return negative ? -sum : sum
    }
}
