import Testing

@testable import KPIPromQL
