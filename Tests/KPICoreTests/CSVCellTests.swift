import KPICore
import Testing

@Suite struct CSVCellTests {
    /// Expected cells written by hand from RFC 4180 and OWASP's CSV-injection advice.
    @Test(arguments: [
        ("plain", "plain", "plain"),
        ("a,b", "\"a,b\"", "\"a,b\""),
        ("say \"hi\"", "\"say \"\"hi\"\"\"", "\"say \"\"hi\"\"\""),
        ("=1+1", "'=1+1", "=1+1"),
        ("@SUM(A1)", "'@SUM(A1)", "@SUM(A1)"),
        ("+cmd", "'+cmd", "+cmd"),
        ("-cmd", "'-cmd", "-cmd"),
        ("\tx", "'\tx", "\tx"),
        ("\rx", "\"'\rx\"", "\"\rx\""),
        ("=a,b", "\"'=a,b\"", "\"=a,b\""),
        ("-1", "-1", "-1"),
        ("+2.5e-3", "+2.5e-3", "+2.5e-3"),
        ("-.5", "-.5", "-.5"),
        ("-1e", "'-1e", "-1e"),
        ("-", "'-", "-"),
        ("-inf", "'-inf", "-inf"),
        ("", "", ""),
        ("x=1", "x=1", "x=1"),
    ])
    func cells(text: String, guarded: String, raw: String) {
        #expect(CSVCell.string(text, guarded: true) == guarded)
        #expect(CSVCell.string(text, guarded: false) == raw)
    }
}
