@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Golden fixtures written by tools/make_golden.py (PyTorch); see that script for their contents.
struct Fixture {
    let file: SafeTensors
    let name: String

    init(_ name: String) throws {
        self.name = name
        file = try SafeTensors.read(path: Fixture.directory + "/" + name + ".safetensors")
    }

    static var directory: String {
        let here = "\(#filePath)"
        let support = here[..<here.lastIndex(of: "/")!]
        let tests = support[..<support.lastIndex(of: "/")!]
        return String(tests) + "/Fixtures"
    }

    func values(_ tensor: String) -> [Float] {
        guard let t = file.tensor(named: tensor) else { fatalError("\(name): no tensor \(tensor)") }
        return t.values
    }

    func shape(_ tensor: String) -> [Int] { file.tensor(named: tensor)!.shape }

    /// The spec described by the metadata (preset, input, hidden, latent, loss, beta), plus extras.
    func spec(optimizer: String? = nil) throws -> ModelSpec {
        var fields: [String] = []
        for key in ["preset", "input", "hidden", "latent", "beta", "classes"] {
            if let v = file.metadata[key] { fields.append("\"\(key)\": \(key == "preset" ? "\"\(v)\"" : v)") }
        }
        if let loss = file.metadata["loss"] { fields.append("\"loss\": \"\(loss)\"") }
        if let optimizer = optimizer { fields.append("\"optimizer\": \(optimizer)") }
        return try ModelSpec(json: "{" + fields.joined(separator: ", ") + "}")
    }

    /// Tensors with a prefix ("param.", "adam3."), with the prefix removed.
    func tensors(prefix: String) -> [(name: String, tensor: Tensor)] {
        file.tensors.filter { $0.name.hasPrefix(prefix) && !$0.name.hasSuffix("losses") }.map {
            (String($0.name.dropFirst(prefix.count)), Tensor(shape: $0.shape, values: $0.values))
        }
    }
}

/// (N, features) → batch-minor (features, N), the layers' layout.
func batchMinor(_ values: [Float], batch: Int) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    transpose(values, rows: batch, columns: values.count / batch, into: &out)
    return out
}

/// Batch-minor (features, N) → (N, features).
func batchMajor(_ values: [Float], batch: Int) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    transpose(values, rows: values.count / batch, columns: batch, into: &out)
    return out
}
