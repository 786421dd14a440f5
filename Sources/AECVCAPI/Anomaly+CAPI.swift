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
        try mapBatch(handle, input: inputs, inputName: "inputs", inputPerExample: handle.inputSize,
                     batch: batch, output: outScores, outputName: "out_scores",
                     outputPerExample: 1, capacity: capacity) {
            try $0.anomalyScores(inputs: $1, batch: Int(batch), metric: metric, into: $2)
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
        try mapBatch(handle, input: inputs, inputName: "inputs", inputPerExample: handle.inputSize,
                     batch: batch, output: outMaps, outputName: "out_maps",
                     outputPerExample: handle.inputSize, capacity: capacity) {
            try $0.anomalyMaps(inputs: $1, batch: Int(batch), metric: metric, into: $2)
        }
    }
}
