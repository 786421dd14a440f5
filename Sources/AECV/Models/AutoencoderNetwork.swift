/// The computation of one autoencoder kind: its layers, its objective and its gradients.
/// `Autoencoder` (the public class) owns one and adds what is common to every kind: argument
/// checks, the transactional optimizer step, the random source, files.
///
/// Buffers are raw pointers whose sizes the caller has checked: inputs/targets/images
/// (batch, inputSize), codes (batch, latentSize).
protocol AutoencoderNetwork: AnyObject {
    var inputShape: [Int] { get }
    var latentSize: Int { get }
    /// (name, shape) in flat-buffer order, named as the equivalent PyTorch module's state_dict.
    var parameterShapes: [(name: String, shape: [Int])] { get }
    /// Points every layer at its views of the flat buffers (called again after each step commits).
    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>)
    func initialize(random: inout RandomSource)
    /// Forward, objective and backward; ACCUMULATES gradients into the bound gradient buffer.
    /// `random` drives training-time randomness (input corruption, reparameterization).
    func lossAndGradients(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int,
                          random: inout RandomSource) -> Float
    /// The objective without an update (deterministic: no corruption).
    func loss(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int) -> Float
    func encode(inputs: UnsafePointer<Float>, batch: Int, codes: UnsafeMutablePointer<Float>)
    func decode(codes: UnsafePointer<Float>, batch: Int, images: UnsafeMutablePointer<Float>)
    func reconstruct(inputs: UnsafePointer<Float>, batch: Int, images: UnsafeMutablePointer<Float>)
    /// Generative kinds decode `count` draws from N(0, I); others return false.
    func sample(count: Int, random: inout RandomSource, images: UnsafeMutablePointer<Float>) -> Bool
}

extension AutoencoderNetwork {
    var inputSize: Int { inputShape.reduce(1, *) }
    var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}
