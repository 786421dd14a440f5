// Size limits shared by every spec reader: layers check their widths against them, models
// their parameter counts.

/// Limits that make absurd specs a CONFIG error before anything is allocated.
public enum SpecLimits {
    /// Largest dimension of the input shape.
    public static let maxDimension = 1 << 16
    /// Largest number of floats per example (C*H*W), 16 Mi.
    public static let maxInputSize = 1 << 24
    /// Largest hidden width, latent size or channel count.
    public static let maxWidth = 1 << 16
    /// Largest number of parameters of a model, 256 Mi floats (1 GiB).
    public static let maxParameters = 1 << 28
    /// Largest number of classes of a conditional model.
    public static let maxClasses = 1 << 16
    /// Largest number of layers in a custom encoder or decoder.
    public static let maxLayers = 256
    /// Deepest JSON nesting accepted.
    public static let maxJSONDepth = 64
    /// Longest spec text accepted, in bytes.
    public static let maxSpecBytes = 1 << 20
}
