import AECVKernels
import AECVNN
import AECVModels
import AECVTasks

/// ONNX export of autoencoders, classifiers and detectors: opset 17, IR version 8, float32,
/// NCHW with a symbolic batch axis "batch" first on every input and output, weights as
/// initializers named as the PyTorch state_dict, and metadata_props
///
///     aecv.version  the library version ("0.1.0")
///     aecv.kind     "autoencoder" | "classifier" | "detector"
///     aecv.part     "autoencoder" | "encoder" | "decoder" (autoencoders)
///     aecv.spec     the filled spec JSON (classifiers: also aecv.autoencoder_spec)
///
/// The graph is what evaluation mode computes (no input corruption, no sampling). Each layer
/// writes its own nodes (`Layer.exportONNX`, in the layer's file); a layer type without an ONNX
/// form makes the export fail with `.unsupported` naming it, and nothing is written. Files are
/// written like model files: a temporary file renamed over the target, so a failed export
/// leaves an existing file intact.

/// What an exported autoencoder graph computes.
public enum ONNXPart: Int32, Sendable, CaseIterable {
    /// input (N, C, H, W) → reconstruction (N, C, H, W)
    case autoencoder = 0
    /// input → code (N, code shape); VAE kinds: → mu, logvar (N, latent)
    case encoder = 1
    /// code → reconstruction
    case decoder = 2

    public var name: String {
        switch self {
        case .autoencoder: return "autoencoder"
        case .encoder: return "encoder"
        case .decoder: return "decoder"
        }
    }

    public init?(name: String) {
        guard let p = ONNXPart.allCases.first(where: { $0.name == name }) else { return nil }
        self = p
    }
}

enum ONNXExport {
    static func model(_ graph: ONNXGraphBuilder, name: String, metadata: [(String, String)]) -> ONNXModel {
        var m = ONNXModel()
        m.producerVersion = LibraryVersion.string
        m.graph = graph.graph
        m.graph.name = name
        m.metadata = [("aecv.version", LibraryVersion.string)] + metadata
        return m
    }

    static func write(_ model: ONNXModel, to path: String) throws {
        try FileIO.writeAtomically(path: path, bytes: ONNXProto.encode(model))
    }
}

extension Autoencoder {
    /// The ONNX model of `part` (see `ONNXPart`). Inputs: "input" (encoder, autoencoder) or
    /// "code" (decoder), then for a conditional model "condition" (N, K), the class as a one-hot.
    /// Outputs: "reconstruction"; "code", or "mu" and "logvar" for the VAE kinds. The
    /// reconstruction has the input's shape.
    func onnxModel(part: ONNXPart) throws -> ONNXModel {
        var g = ONNXGraphBuilder()
        func condition() { if let k = spec.classes { g.input(VariationalAutoencoder.onnxConditionInput, shape: [k]) } }
        switch part {
        case .encoder:
            g.input("input", shape: spec.input)
            condition()
            for (name, value) in try network.exportONNXEncoder(&g, input: "input") { g.output(value, as: name) }
        case .decoder:
            g.input("code", shape: network.codeShape)
            condition()
            let image = try network.exportONNXDecoder(&g, code: "code")
            g.output(g.reshaped(image, to: spec.input, name: "reconstruction_shape"), as: "reconstruction")
        case .autoencoder:
            g.input("input", shape: spec.input)
            condition()
            let outputs = try network.exportONNXEncoder(&g, input: "input")
            let image = try network.exportONNXDecoder(&g, code: outputs[0].value)   // VAEs decode μ
            g.output(g.reshaped(image, to: spec.input, name: "reconstruction_shape"), as: "reconstruction")
        }
        return ONNXExport.model(g, name: "aecv_\(spec.preset.rawValue)_\(part.name)", metadata: [
            ("aecv.kind", "autoencoder"), ("aecv.part", part.name), ("aecv.spec", specJSON)])
    }

    /// Writes the ONNX model of `part` to `path`, atomically.
    /// - Throws: `.unsupported` (a layer without an ONNX form; nothing written), `.io`.
    public func exportONNX(path: String, part: ONNXPart) throws {
        network.setMode(.evaluation)
        try ONNXExport.write(try onnxModel(part: part), to: path)
    }
}

extension Classifier {
    /// input (N, C, H, W) → "logits" (N, classes): encoder features (μ for the VAE kinds),
    /// standardization with the current statistics, the MLP head. Softmax of the logits is
    /// what `predict` returns.
    func onnxModel() throws -> ONNXModel {
        var g = ONNXGraphBuilder()
        g.input("input", shape: inputShape)
        var x = try features.layers.exportONNX(&g, input: "input", prefix: "encoder")
        if let heads = features.heads {
            let both = try heads.exportONNX(&g, input: x, name: "fc_mu_logvar")
            let starts = g.initializer("fc_mu.starts", ints: [0])
            let ends = g.initializer("fc_mu.ends", ints: [Int64(features.latent)])
            let axes = g.initializer("fc_mu.axes", ints: [1])
            x = g.node("Slice", [both, starts, ends, axes], name: "fc_mu", shape: [features.latent])
        }
        x = g.flattened(x, name: "features")
        if let standardizer { x = try standardizer.exportONNX(&g, input: x, name: "standardizer") }
        x = try head.exportONNX(&g, input: x, prefix: "head")
        g.output(x, as: "logits")
        return ONNXExport.model(g, name: "aecv_classifier", metadata: [
            ("aecv.kind", "classifier"), ("aecv.spec", spec.jsonString()),
            ("aecv.autoencoder_spec", autoencoderSpec.jsonString())])
    }

    /// Writes the classifier as ONNX (input → logits), atomically.
    public func exportONNX(path: String) throws {
        network.setMode(.evaluation)
        try ONNXExport.write(try onnxModel(), to: path)
    }
}

extension Detector {
    /// input (N, C, H, W) → "grid" (N, 5 + classes, H/s, W/s), the raw head outputs before any
    /// decoding (README, "ONNX": channel 0 objectness logit, 1–2 tx, ty, 3–4 tw, th, then the
    /// class logits). Test-time flip averaging and NMS are left to the deployer.
    func onnxModel() throws -> ONNXModel {
        var g = ONNXGraphBuilder()
        g.input("input", shape: inputShape)
        let f = try network.backbone.exportONNX(&g, input: "input", prefix: "encoder")
        g.output(try network.head.exportONNX(&g, input: f, prefix: "head"), as: "grid")
        return ONNXExport.model(g, name: "aecv_detector", metadata: [
            ("aecv.kind", "detector"), ("aecv.spec", spec.jsonString()),
            ("aecv.stride", String(spec.stride)), ("aecv.anchor", formatFloat(spec.anchor))])
    }

    /// Writes the detector's raw grid network as ONNX, atomically.
    public func exportONNX(path: String) throws {
        network.backbone.setMode(.evaluation)
        network.head.setMode(.evaluation)
        try ONNXExport.write(try onnxModel(), to: path)
    }
}
