/// One problem found in ingest input: which line (1-based; 0 when the input has no lines, e.g.
/// a protobuf body), which field, and why.
public struct IngestIssue: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var field: String?
    public var reason: String

    public init(line: Int, field: String?, reason: String) {
        self.line = line
        self.field = field
        self.reason = reason
    }

    public var description: String {
        "line \(line)" + (field.map { ", field \($0)" } ?? "") + ": \(reason)"
    }
}

/// Why an ingest request was refused. Nothing of a refused request is stored.
public struct IngestError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Malformed or invalid input (HTTP 400).
        case invalidInput = "invalid_input"
        /// Samples too far behind the newest sample of their series (HTTP 400).
        case outOfBounds = "out_of_bounds"
        /// A configured limit was exceeded: series count, labels (HTTP 400 or 429).
        case limitExceeded = "limit_exceeded"
        /// Content type not understood (HTTP 415).
        case unsupportedFormat = "unsupported_format"
    }

    /// At most this many details are kept; `detailsTruncated` says more were found.
    public static let maxDetails = 100

    public var kind: Kind
    public var message: String
    public private(set) var details: [IngestIssue]
    public private(set) var detailsTruncated: Bool = false

    public init(kind: Kind = .invalidInput, message: String, details: [IngestIssue] = []) {
        self.kind = kind
        self.message = message
        self.details = Array(details.prefix(IngestError.maxDetails))
        self.detailsTruncated = details.count > IngestError.maxDetails
    }

    /// Adds a detail unless the list is full.
    public mutating func add(_ issue: IngestIssue) {
        if details.count < IngestError.maxDetails { details.append(issue) } else { detailsTruncated = true }
    }

    public var description: String {
        ([message] + details.map(\.description)).joined(separator: "; ")
    }
}

/// Collects issues while decoding, so a request reports up to `IngestError.maxDetails` problems
/// at once rather than only the first.
public struct IngestIssueCollector: Sendable {
    public private(set) var error: IngestError?

    public init() {}

    public mutating func report(line: Int, field: String?, reason: String) {
        if error == nil { error = IngestError(message: "invalid input") }
        error!.add(IngestIssue(line: line, field: field, reason: reason))
    }

    /// True when enough issues were found that decoding can stop early.
    public var isFull: Bool { (error?.details.count ?? 0) >= IngestError.maxDetails }
}
