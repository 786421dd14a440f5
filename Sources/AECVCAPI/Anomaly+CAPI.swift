// The anomaly-detection entry points (issue 8): per-image scores and per-pixel maps from
// reconstruction error. Same validation rules as Model+CAPI.swift; the metric is checked before
// the buffers so that a bad enum value is reported as such.
import AECV

@_cdecl("aecv_model_anomaly_scores")
public func aecv_model_anomaly_scores(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                      _ batch: UInt, _ metric: Int32,
                                      _ outScores: UnsafeMutablePointer<Float>?,
                                      _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_anomaly_scores") {
        let handle = try modelHandle(model)
        let metric = try AnomalyMetric(validating: metric)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "inputs")
        let inputs = try inputBuffer(inputs, name: "inputs", count: count)
        let scores = try outputBuffer(outScores, name: "out_scores", capacity: capacity,
                                      needed: Int(batch), batch: batch)
        try withDisjointInputs(inputs, from: scores) { inputs in
            try handle.withLockedModel {
                try $0.anomalyScores(inputs: inputs, batch: Int(batch), metric: metric, into: scores)
            }
        }
    }
}

@_cdecl("aecv_model_anomaly_maps")
public func aecv_model_anomaly_maps(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                    _ batch: UInt, _ metric: Int32,
                                    _ outMaps: UnsafeMutablePointer<Float>?,
                                    _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_anomaly_maps") {
        let handle = try modelHandle(model)
        let metric = try AnomalyMetric(validating: metric)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "inputs")
        let inputs = try inputBuffer(inputs, name: "inputs", count: count)
        let maps = try outputBuffer(outMaps, name: "out_maps", capacity: capacity,
                                    needed: count, batch: batch)
        try withDisjointInputs(inputs, from: maps) { inputs in
            try handle.withLockedModel {
                try $0.anomalyMaps(inputs: inputs, batch: Int(batch), metric: metric, into: maps)
            }
        }
    }
}
