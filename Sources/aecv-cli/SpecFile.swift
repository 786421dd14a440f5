import AECV
import AECVData

/// A model spec given on the command line (`train --spec`, `anomaly bench --spec`): a JSON file,
/// or (bench) the JSON text itself. The data decides the input shape and --seed the seed unless
/// the spec says otherwise; any key the core's spec parser knows is accepted, so new spec
/// fields work here as soon as the core reads them.
enum SpecFile {
    /// The JSON of `argument`: inline when it starts with "{" (after spaces), else a file.
    static func json(_ argument: String) throws -> (value: JSONValue, name: String) {
        let inline = argument.drop(while: { $0 == " " || $0 == "\n" || $0 == "\t" }).first == "{"
        let name = inline ? "--spec" : argument
        let text: String
        if inline {
            text = argument
        } else {
            let bytes = try FileIO.readAll(path: argument, maxBytes: SpecLimits.maxSpecBytes)
            text = String(decoding: bytes, as: UTF8.self)
        }
        do {
            return (try JSONValue.parse(text), name)
        } catch let error as JSONError {
            throw CLIError("\(name): invalid JSON: \(error)")
        }
    }

    /// The model of spec `value` for images of `inputShape`.
    static func model(_ value: JSONValue, name: String, inputShape: [Int], seed: UInt64) throws -> Autoencoder {
        guard case .object(var members) = value else { throw CLIError("\(name): a spec is a JSON object") }
        if !members.contains(where: { $0.key == "input" }) {
            members.append(JSONMember("input", .array(inputShape.map { .int(Int64($0)) })))
        }
        if !members.contains(where: { $0.key == "seed" }) {
            members.append(JSONMember("seed", .int(Int64(truncatingIfNeeded: seed))))
        }
        do {
            let spec = try ModelSpec(jsonValue: .object(members))
            if spec.input != inputShape {
                throw CLIError("\(name): the spec's input is \(describeShape(spec.input)) but the data has \(describeShape(inputShape)) images")
            }
            return try Autoencoder(spec: spec)
        } catch let error as AECVError {
            throw CLIError("\(name): \(error.message)")
        }
    }
}
