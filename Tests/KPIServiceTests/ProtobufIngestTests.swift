import Foundation
import KPICore
import KPIWire
import Testing

@Suite(.serialized) struct ProtobufIngestTests {
    @Test func ingestsAProtobufBatchOverHTTP() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        var batch = SampleBatch()
        let ts = (0..<500).map { 1_762_070_400_000 + Int64($0) * 15_000 }
        batch.append(
            Labels(metric: "occupancy_people", ["site": "JFK", "zone": "B22"]), timestamps: ts, values: ts.map { Double($0 % 250) })
        batch.append(Labels(metric: "device_up", ["site": "JFK", "device": "cam-1"]), timestamps: [ts[0]], values: [1])
        let r = try http(
            "POST", kpid.base + "/api/v1/ingest", body: Data(ProtobufBatchEncoder.encode(batch)),
            headers: ["Content-Type": "application/x-protobuf"])
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json["samples"] as? Int == 501)
        #expect(r.json["series_created"] as? Int == 2)
        let back = try kpid.exportedSamples(#"occupancy_people{zone="B22"}"#)
        #expect(back.map(\.1) == ts)
        #expect(back.map(\.2) == ts.map { Double($0 % 250) })

        let bad = try http(
            "POST", kpid.base + "/api/v1/ingest", body: Data([0xFF, 0x01]), headers: ["Content-Type": "application/x-protobuf"])
        #expect(bad.status == 400)
        #expect((bad.json["details"] as? [[String: Any]])?.first?["field"] as? String == "body")
        #expect(kpid.service.store.stats.sampleCount == 501)
    }
}
