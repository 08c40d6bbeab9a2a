/// Maps label sets to series ids and back, with postings (sorted series ids) per label pair, so
/// selectors are answered by set operations on postings instead of scanning every series.
///
/// Not thread-safe by itself: `ColumnarStore` guards it with its lock.
public struct SeriesIndex: Sendable {
    private var ids: [Labels: SeriesID] = [:]
    /// `labelsByID[id.rawValue]`; ids are dense from 0, holes are nil.
    private var labelsByID: [Labels?] = []
    /// name -> value -> ascending series ids.
    private var postings: [String: [String: [SeriesID]]] = [:]
    /// Every id, ascending.
    private var allIDs: [SeriesID] = []

    public init() {}

    public var count: Int { allIDs.count }

    public func id(for labels: Labels) -> SeriesID? { ids[labels] }

    public func labels(of id: SeriesID) -> Labels? {
        let i = Int(id.rawValue)
        return i < labelsByID.count ? labelsByID[i] : nil
    }

    /// The next unused id.
    public var nextID: SeriesID { SeriesID(UInt32(labelsByID.count)) }

    /// Adds a series under `id`. Ids must be added in ascending order (the writer assigns them
    /// so), which keeps every postings list sorted by appending.
    public mutating func insert(_ labels: Labels, id: SeriesID) {
        precondition(ids[labels] == nil, "series added twice")
        precondition(Int(id.rawValue) >= labelsByID.count, "series ids must be added in ascending order")
        while labelsByID.count < Int(id.rawValue) { labelsByID.append(nil) }
        labelsByID.append(labels)
        ids[labels] = id
        allIDs.append(id)
        for pair in labels.pairs {
            postings[pair.name, default: [:]][pair.value, default: []].append(id)
        }
    }

    /// Removes series (deleted, or emptied by retention): their labels, ids and postings go, so
    /// selectors, label names and values stop showing them. Their ids are not handed out again
    /// (`nextID` does not move back). One pass per touched postings list, however many series.
    public mutating func remove(_ removed: Set<SeriesID>) {
        var touched: [String: Set<String>] = [:]
        var any = false
        for id in removed {
            guard let labels = labels(of: id) else { continue }
            any = true
            labelsByID[Int(id.rawValue)] = nil
            ids[labels] = nil
            for pair in labels.pairs { touched[pair.name, default: []].insert(pair.value) }
        }
        guard any else { return }
        allIDs.removeAll { removed.contains($0) }
        for (name, values) in touched {
            for value in values {
                postings[name]?[value]?.removeAll { removed.contains($0) }
                if postings[name]?[value]?.isEmpty == true { postings[name]?[value] = nil }
            }
            if postings[name]?.isEmpty == true { postings[name] = nil }
        }
    }

    /// Label names in use, sorted.
    public var labelNames: [String] { postings.keys.sorted() }

    /// Values of a label name in use, in no particular order.
    public func unsortedValues(of name: String) -> [String] { (postings[name]?.keys).map(Array.init) ?? [] }

    /// Values of a label name in use, sorted.
    public func values(of name: String) -> [String] { (postings[name]?.keys).map { $0.sorted() } ?? [] }

    /// Ids of the series that satisfy every matcher, ascending.
    ///
    /// Matchers that reject the empty value narrow the candidates through postings; matchers
    /// that accept it (`a!="x"`, `a=~"x|"`) remove the series whose value they reject. With no
    /// narrowing matcher every series is a candidate.
    public func select(_ matchers: [LabelMatcher]) -> [SeriesID] {
        var result: [SeriesID]? = nil
        // Equality first: it is one dictionary lookup and usually the most selective.
        let ordered = matchers.sorted { ($0.op == .equal ? 0 : 1) < ($1.op == .equal ? 0 : 1) }
        for matcher in ordered where !matcher.matchesEmpty {
            let matched = postingsMatching(matcher, wanted: true)
            result = result.map { SeriesIndex.intersect($0, matched) } ?? matched
            if result!.isEmpty { return [] }
        }
        var current = result ?? allIDs
        for matcher in ordered where matcher.matchesEmpty {
            let rejected = postingsMatching(matcher, wanted: false)
            if !rejected.isEmpty { current = SeriesIndex.subtract(current, rejected) }
        }
        return current
    }

    /// Union of the postings of the values of `matcher.name` for which `matches == wanted`.
    private func postingsMatching(_ matcher: LabelMatcher, wanted: Bool) -> [SeriesID] {
        guard let byValue = postings[matcher.name] else { return [] }
        if matcher.op == .equal && wanted { return byValue[matcher.value] ?? [] }
        var lists: [[SeriesID]] = []
        for (value, ids) in byValue where matcher.matches(value) == wanted { lists.append(ids) }
        if lists.count == 1 { return lists[0] }
        var merged = lists.flatMap { $0 }
        merged.sort()
        return merged
    }

    static func intersect(_ a: [SeriesID], _ b: [SeriesID]) -> [SeriesID] {
        var out: [SeriesID] = []
        out.reserveCapacity(min(a.count, b.count))
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] {
                i += 1
            } else if b[j] < a[i] {
                j += 1
            } else {
                out.append(a[i])
                i += 1
                j += 1
            }
        }
        return out
    }

    static func subtract(_ a: [SeriesID], _ b: [SeriesID]) -> [SeriesID] {
        var out: [SeriesID] = []
        out.reserveCapacity(a.count)
        var j = 0
        for id in a {
            while j < b.count && b[j] < id { j += 1 }
            if j < b.count && b[j] == id { continue }
            out.append(id)
        }
        return out
    }
}
