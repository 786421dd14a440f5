import AECV
import AECVData
import ArgumentParser

/// `aecv import model.onnx --out model.aecv [--code NODE] [--spec '{"loss": "bce"}']`: turns an
/// ONNX autoencoder (e.g. from `torch.onnx.export`) into a model file that every other command
/// reads, and that `aecv train --resume` trains further. The core does the work
/// (`Autoencoder.importONNX`); this command only gathers the overrides and saves atomically.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import an ONNX autoencoder (e.g. from torch.onnx.export) as a trainable model file.",
        discussion: """
            The graph must be a chain of supported operators (Conv, ConvTranspose, Gemm, MatMul+Add, \
            the activations, pooling, Resize, BatchNormalization, Flatten/Reshape) with residual Adds; \
            anything else is refused naming the operator and the node. The code is where the node \
            names' top-level module changes (/encoder/... to /decoder/...), else the narrowest point, \
            or --code. Continue training with: aecv train --resume model.aecv --data ...
            """)

    @Argument(help: ArgumentHelp("The ONNX file to read.", valueName: "model.onnx"))
    var onnx: String

    @Option(help: ArgumentHelp("Where to save the model (default: the ONNX file's name with .aecv).", valueName: "model.aecv"))
    var out: String?

    @Option(help: ArgumentHelp("The node output that is the code (the encoder's last value).", valueName: "name"))
    var code: String?

    @Option(help: ArgumentHelp("Spec fields to set, as inline JSON or a file: \"loss\", \"optimizer\", \"seed\".", valueName: "json"))
    var spec: String?

    /// The model file to write: --out, else the input's name with its .onnx replaced by .aecv.
    var outPath: String {
        if let out = out { return out }
        let base = onnx.hasSuffix(".onnx") ? String(onnx.dropLast(5)) : onnx
        return base + ".aecv"
    }

    func run() throws {
        var members: [JSONMember] = []
        if let spec = spec {
            let (value, name) = try SpecFile.json(spec)
            guard let object = value.asObject else { throw CLIError("\(name): the overrides are a JSON object") }
            members = object
        }
        if let code = code {
            if members.contains(where: { $0.key == "code" }) { throw CLIError("--code and the spec's \"code\" both name the code; give one") }
            members.append(JSONMember("code", .string(code)))
        }
        let overrides = members.isEmpty ? nil : JSONValue.object(members).serialized()
        let model = try Autoencoder.importONNX(path: onnx, overridesJSON: overrides)
        try model.save(to: outPath)
        let (e, d) = (model.spec.encoder?.count ?? 0, model.spec.decoder?.count ?? 0)
        Terminal.say("\(outPath): encoder of \(e) and decoder of \(d) layers, input \(describeShape(model.inputShape)), "
                     + "code of \(model.latentSize) values, \(model.parameterCount) parameters")
    }
}
