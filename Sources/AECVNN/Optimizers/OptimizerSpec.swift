// The optimizer settings a spec names (its JSON form is in ModelSpec+JSON.swift).

/// Optimizer settings; defaults are PyTorch's.
public struct OptimizerSpec: Equatable, Sendable {
    public enum Name: String, Equatable, Sendable { case adam, sgd }
    public var name: Name = .adam
    public var learningRate: Float = 1e-3
    /// Adam: beta1, beta2, eps.
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// SGD: momentum (PyTorch semantics, no dampening).
    public var momentum: Float = 0
    /// L2 penalty added to the gradient (PyTorch's `weight_decay`), both optimizers.
    public var weightDecay: Float = 0

    public init(name: Name = .adam, learningRate: Float? = nil) {
        self.name = name
        self.learningRate = learningRate ?? (name == .adam ? 1e-3 : 1e-2)
    }
}
