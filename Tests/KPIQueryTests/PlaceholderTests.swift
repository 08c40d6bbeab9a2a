import Testing

@testable import KPIQuery
