@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Finite-difference gradient checks (as kann's kad_check_grad, ggml's test-backend-ops):
/// the loss is Σ f(x)·R for a fixed random R, so every output element matters.
struct GradientCheckResult {
    var parameterError: Double
    var inputError: Double
}

/// Relative error ‖a − n‖ / (‖a‖ + ‖n‖), 0 when both vanish.
func relativeError(_ analytic: [Double], _ numeric: [Double]) -> Double {
    var diff = 0.0, a = 0.0, n = 0.0
    for i in analytic.indices {
        diff += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i])
        a += analytic[i] * analytic[i]
        n += numeric[i] * numeric[i]
    }
    let denominator = a.squareRoot() + n.squareRoot()
    return denominator == 0 ? 0 : diff.squareRoot() / denominator
}

/// Checks a layer's parameter and input gradients at `probes` random coordinates of each.
/// `input` may be shaped by the caller to avoid kinks (e.g. |x| > h for ReLU).
func checkLayerGradients(_ layer: Layer, batch: Int, input: [Float]? = nil, seed: UInt64 = 1,
                         probes: Int = 40) -> GradientCheckResult {
    var random = RandomSource(seed: seed)
    let pCount = max(layer.parameterCount, 1)
    let parameters = UnsafeMutablePointer<Float>.allocate(capacity: pCount)
    let gradients = UnsafeMutablePointer<Float>.allocate(capacity: pCount)
    defer { parameters.deallocate(); gradients.deallocate() }
    parameters.initialize(repeating: 0, count: pCount)
    gradients.initialize(repeating: 0, count: pCount)
    layer.bind(parameters: parameters, gradients: gradients)
    // Buffers (running statistics): a current and a next block, as a ParameterStore provides.
    let bCount = max(layer.bufferCount, 1)
    let buffers = UnsafeMutablePointer<Float>.allocate(capacity: 2 * bCount)
    defer { buffers.deallocate() }
    buffers.initialize(repeating: 0, count: 2 * bCount)
    layer.bind(buffers: buffers, next: buffers + bCount)
    layer.initialize(random: &random)
    // Larger-than-default weights make the check sensitive to every term.
    for i in 0..<layer.parameterCount { parameters[i] = random.uniform(-1, 1) }

    let inCount = batch * layer.inputSize, outCount = batch * layer.outputSize
    var x = input ?? (0..<inCount).map { _ in random.uniform(-1, 1) }
    let r: [Float] = (0..<outCount).map { _ in random.uniform(-1, 1) }
    var y = [Float](repeating: 0, count: outCount)
    var dx = [Float](repeating: 0, count: inCount)

    func loss() -> Double {
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                layer.forward(input: xp.baseAddress!, output: yp.baseAddress!, batch: batch)
            }
        }
        var s = 0.0
        for i in 0..<outCount { s += Double(y[i]) * Double(r[i]) }
        return s
    }

    _ = loss()
    x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
            r.withUnsafeBufferPointer { rp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    layer.backward(input: xp.baseAddress!, output: yp.baseAddress!,
                                   outputGradient: rp.baseAddress!, inputGradient: dxp.baseAddress!,
                                   batch: batch)
                }
            }
        }
    }
    let h = Tolerance.gradientStep

    var analytic: [Double] = [], numeric: [Double] = []
    for _ in 0..<min(probes, layer.parameterCount) {
        let i = Int(random.next() % UInt64(layer.parameterCount))
        let saved = parameters[i]
        parameters[i] = saved + h; let plus = loss()
        parameters[i] = saved - h; let minus = loss()
        parameters[i] = saved
        analytic.append(Double(gradients[i]))
        numeric.append((plus - minus) / Double(2 * h))
    }
    let parameterError = relativeError(analytic, numeric)

    analytic = []; numeric = []
    for _ in 0..<min(probes, inCount) {
        let i = Int(random.next() % UInt64(inCount))
        let saved = x[i]
        x[i] = saved + h; let plus = loss()
        x[i] = saved - h; let minus = loss()
        x[i] = saved
        analytic.append(Double(dx[i]))
        numeric.append((plus - minus) / Double(2 * h))
    }
    return GradientCheckResult(parameterError: parameterError, inputError: relativeError(analytic, numeric))
}
