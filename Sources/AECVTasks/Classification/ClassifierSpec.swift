import AECVKernels
import AECVNN

/// The typed spec of a `Classifier` on top of an autoencoder's encoder. JSON:
///
///     {"classes": 10,                  required, 2...65536
///      "hidden": [],                   MLP head widths ([] = a linear head), default []
///      "freeze_encoder": true,         true: linear probe / MLP on frozen codes; false: fine-tune
///      "encoder_learning_rate": 1e-4,  fine-tuning only; default: the optimizer's learning rate / 10
///      "standardize": true,            z-score the features with running statistics (default true)
///      "feature": "code",              "code" or the number of encoder layers to keep (e.g. 4)
///      "optimizer": {...},             as in the model spec; default Adam 1e-3
///      "seed": 0}
public struct ClassifierSpec: Equatable, Sendable {
    public var classes: Int
    public var hidden: [Int] = []
    public var freezeEncoder = true
    public var encoderLearningRate: Float?
    public var standardize = true
    /// Number of leading encoder layers whose output is the feature; nil = the whole encoder (the code).
    public var featureLayers: Int?
    public var optimizer = OptimizerSpec()
    public var seed: UInt64 = 0

    public init(classes: Int, hidden: [Int] = [], freezeEncoder: Bool = true) {
        self.classes = classes
        self.hidden = hidden
        self.freezeEncoder = freezeEncoder
    }

    public init(json: String) throws {
        if json.utf8.count > SpecLimits.maxSpecBytes {
            throw AECVError.config("classifier spec: \(json.utf8.count) bytes exceeds the limit of \(SpecLimits.maxSpecBytes)")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(json) } catch let e as JSONError {
            throw AECVError.config("classifier spec: invalid JSON: \(e)")
        }
        let path = "classifier"
        let members = try SpecDecoder.object(value, path)
        try SpecDecoder.checkKeys(members, allowed: ["classes", "hidden", "freeze_encoder", "encoder_learning_rate",
                                                     "standardize", "feature", "optimizer", "seed"], path: path)
        let get = { (key: String) in members.first { $0.key == key }?.value }
        guard let classes = get("classes") else { throw AECVError.config("classifier.classes: required, the number of classes") }
        self.init(classes: try SpecDecoder.integer(classes, "classifier.classes", expected: "a positive integer"))
        if let v = get("hidden") {
            switch v {
            case .array(let items):
                hidden = try items.enumerated().map { try SpecDecoder.integer($1, "classifier.hidden[\($0)]", expected: "a positive integer") }
            default:
                hidden = [try SpecDecoder.integer(v, "classifier.hidden", expected: "an array of positive integers")]
            }
        }
        if let v = get("freeze_encoder") {
            guard case .bool(let b) = v else { throw AECVError.config("classifier.freeze_encoder: expected true or false, got \(v.describedForMessage())") }
            freezeEncoder = b
        }
        if let v = get("standardize") {
            guard case .bool(let b) = v else { throw AECVError.config("classifier.standardize: expected true or false, got \(v.describedForMessage())") }
            standardize = b
        }
        if let v = get("encoder_learning_rate") { encoderLearningRate = try SpecDecoder.float(v, "classifier.encoder_learning_rate") }
        if let v = get("feature") {
            if case .string("code") = v { featureLayers = nil } else {
                featureLayers = try SpecDecoder.integer(v, "classifier.feature", expected: "\"code\" or a number of encoder layers")
            }
        }
        if let v = get("optimizer") { optimizer = try SpecDecoder.optimizer(v, path: "classifier.optimizer") }
        if let v = get("seed") {
            let s = try SpecDecoder.integer(v, "classifier.seed", expected: "a non-negative integer")
            guard s >= 0 else { throw AECVError.config("classifier.seed: must be a non-negative integer, got \(s)") }
            seed = UInt64(s)
        }
        try validate()
    }

    public func validate() throws {
        if classes < 2 || classes > SpecLimits.maxWidth {
            throw AECVError.config("classifier.classes: must be in 2...\(SpecLimits.maxWidth), got \(classes)")
        }
        for (i, h) in hidden.enumerated() where h < 1 || h > SpecLimits.maxWidth {
            throw AECVError.config("classifier.hidden[\(i)]: must be in 1...\(SpecLimits.maxWidth), got \(h)")
        }
        if hidden.count > 16 { throw AECVError.config("classifier.hidden: at most 16 layers, got \(hidden.count)") }
        if let lr = encoderLearningRate, !(lr.isFinite && lr > 0) {
            throw AECVError.config("classifier.encoder_learning_rate: must be a positive finite number, got \(lr)")
        }
        if encoderLearningRate != nil && freezeEncoder {
            throw AECVError.config("classifier.encoder_learning_rate: only applies with \"freeze_encoder\": false")
        }
        if let f = featureLayers, f < 1 {
            throw AECVError.config("classifier.feature: must be \"code\" or a positive number of encoder layers, got \(f)")
        }
        try optimizer.validate(path: "classifier.optimizer")
    }

    public func jsonValue() -> JSONValue {
        var m = [JSONMember("classes", .int(Int64(classes))),
                 JSONMember("hidden", .array(hidden.map { .int(Int64($0)) })),
                 JSONMember("freeze_encoder", .bool(freezeEncoder))]
        if let lr = encoderLearningRate { m.append(JSONMember("encoder_learning_rate", floatJSON(lr))) }
        m.append(JSONMember("standardize", .bool(standardize)))
        m.append(JSONMember("feature", featureLayers.map { .int(Int64($0)) } ?? .string("code")))
        m.append(JSONMember("optimizer", optimizer.jsonValue()))
        m.append(JSONMember("seed", .int(Int64(seed))))
        return .object(m)
    }

    public func jsonString() -> String { jsonValue().serialized() }
}
