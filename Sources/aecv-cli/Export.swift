import AECV
import AECVData
import ArgumentParser

/// `aecv export model.aecv --onnx out.onnx [--part encoder]`: writes an ONNX file for ONNX
/// Runtime, OpenVINO, TensorRT or a browser. Classifier (.aecvc) and detector (.aecvd) files
/// export their logits and raw grid networks; --part applies to autoencoders only.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model, classifier or detector file as ONNX (opset 17, dynamic batch).")

    @Argument(help: ArgumentHelp("A model (.aecv), classifier (.aecvc) or detector (.aecvd) file.", valueName: "file"))
    var model: String

    @Option(help: ArgumentHelp("The ONNX file to write (atomically).", valueName: "out.onnx"))
    var onnx: String

    @Option(help: "What an autoencoder's graph computes: autoencoder (input → reconstruction), encoder (input → code; VAEs: mu, logvar) or decoder (code → reconstruction).")
    var part: String = "autoencoder"

    func validate() throws {
        if ONNXPart(name: part) == nil {
            throw ValidationError("--part: expected autoencoder, encoder or decoder, got \"\(part)\"")
        }
    }

    func run() throws {
        let p = ONNXPart(name: part)!
        if model.hasSuffix(".aecvc") {
            try Classifier(contentsOf: model).exportONNX(path: onnx)
            Terminal.say("\(onnx): classifier, input → logits")
        } else if model.hasSuffix(".aecvd") {
            try Detector(contentsOf: model).exportONNX(path: onnx)
            Terminal.say("\(onnx): detector, input → grid (raw head outputs)")
        } else {
            let net = try loadModel(model)
            try net.exportONNX(path: onnx, part: p)
            Terminal.say("\(onnx): \(net.spec.preset.rawValue) \(p.name), opset 17")
        }
    }
}
