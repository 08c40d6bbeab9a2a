import Testing

@testable import KPITemplates
