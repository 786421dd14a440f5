import AECVKernels
import AECVNN
import AECVModels

/// The typed spec of a `Detector`, a single-stage grid detector on the conv autoencoder's encoder.
/// JSON:
///
///     {"classes": 10,                 required, 1...65536
///      "input": [1, 96, 96],          required, [C, H, W]; H and W divisible by the stride 2^stages
///      "backbone": [16, 32, 64],      channels of the Conv(k3, s2, p1)+ReLU stages (default: the
///                                     conv preset's; from an autoencoder: its "hidden")
///      "batch_norm": false,           a BatchNorm after each backbone conv (which then has no bias)
///      "downsample": "stride",        or "max_pool": Conv(k3, s1, p1) [BN] ReLU MaxPool(2) stages;
///                                     both as the conv preset's options, and from an autoencoder
///                                     its own
///      "freeze_backbone": false,      true: only the head is trained
///      "head_channels": 128,          width of the head's Conv3×3
///      "anchor": 32,                  box size in pixels that log-size 0 means: w = anchor·e^{tw}
///      "box_weight": 5,               weight of the box loss
///      "negative_weight": 1,          weight of the objectness loss on cells without an object
///      "class_weight": 3,             weight of the classification loss
///      "classes_per_cell": 1,         detection: up to this many classes per cell, the most likely
///                                     first, each scored σ(objectness)·p(class)
///      "test_time_flip": true,        detection: average the outputs of each image and of its
///                                     left-right mirror (twice the inference cost)
///      "optimizer": {...},            as in the model spec; default Adam 1e-3 (all parameters)
///      "seed": 0}                     head (and random backbone) initialization
public struct DetectorSpec: Equatable, Sendable {
    public var classes: Int
    public var input: [Int]
    public var backbone: [Int] = [16, 32, 64]
    /// The backbone's stage options (the conv preset's `batch_norm` and `downsample`).
    public var batchNorm = false
    public var downsample = ModelSpec.Downsampling.stride
    public var freezeBackbone = false
    /// 128 and class_weight 3: on the Fashion-MNIST canvases classification, not localization,
    /// limits mAP, and the wider head with a heavier class loss lifted mAP@0.5 from 0.635 (64, 1)
    /// to 0.687 (tools/detect_bench.py, 30 epochs, README).
    public var headChannels = 128
    public var anchor: Float = 32
    public var boxWeight: Float = 5
    public var negativeWeight: Float = 1
    public var classWeight: Float = 3
    public var classesPerCell = 1
    public var testTimeFlip = true
    public var optimizer = OptimizerSpec()
    public var seed: UInt64 = 0

    public init(classes: Int, input: [Int]) {
        self.classes = classes
        self.input = input
    }

    /// The output stride of the backbone: each stage halves H and W.
    public var stride: Int { 1 << backbone.count }
    public var gridHeight: Int { input.count == 3 ? input[1] / stride : 0 }
    public var gridWidth: Int { input.count == 3 ? input[2] / stride : 0 }
    /// Head outputs per cell: objectness, (tx, ty, tw, th), class logits.
    public var outputsPerCell: Int { 5 + classes }

    static let keys = ["classes", "input", "backbone", "batch_norm", "downsample", "freeze_backbone", "head_channels", "anchor",
                       "box_weight", "negative_weight", "class_weight", "classes_per_cell", "test_time_flip", "optimizer", "seed"]

    public init(json: String) throws {
        try self.init(json: json, fromFile: false)
    }

    /// A spec read from a detector file. Files written before a key existed behave as they did
    /// when saved: without "test_time_flip" a detector detects without the flip, without
    /// "class_weight" it trains with weight 1 (today's defaults are true and 3).
    package init(fileJSON json: String) throws {
        try self.init(json: json, fromFile: true)
    }

    private init(json: String, fromFile: Bool) throws {
        if json.utf8.count > SpecLimits.maxSpecBytes {
            throw AECVError.config("detector spec: \(json.utf8.count) bytes exceeds the limit of \(SpecLimits.maxSpecBytes)")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(json) } catch let e as JSONError {
            throw AECVError.config("detector spec: invalid JSON: \(e)")
        }
        let members = try SpecDecoder.object(value, "detector")
        try SpecDecoder.checkKeys(members, allowed: DetectorSpec.keys, path: "detector")
        let get = { (key: String) in members.first { $0.key == key }?.value }
        guard let classes = get("classes") else { throw AECVError.config("detector.classes: required, the number of classes") }
        guard let inputValue = get("input") else { throw AECVError.config("detector.input: required, [C, H, W]") }
        func integers(_ v: JSONValue, _ path: String) throws -> [Int] {
            guard case .array(let items) = v else { throw AECVError.config("\(path): expected an array of positive integers, got \(v.describedForMessage())") }
            return try items.enumerated().map { try SpecDecoder.integer($1, "\(path)[\($0)]", expected: "a positive integer") }
        }
        func bool(_ v: JSONValue, _ path: String) throws -> Bool {
            guard case .bool(let b) = v else { throw AECVError.config("\(path): expected true or false, got \(v.describedForMessage())") }
            return b
        }
        self.init(classes: try SpecDecoder.integer(classes, "detector.classes", expected: "a positive integer"),
                  input: try integers(inputValue, "detector.input"))
        if fromFile {
            if get("test_time_flip") == nil { testTimeFlip = false }
            if get("class_weight") == nil { classWeight = 1 }
        }
        if let v = get("backbone") { backbone = try integers(v, "detector.backbone") }
        if let v = get("batch_norm") { batchNorm = try bool(v, "detector.batch_norm") }
        if let v = get("downsample") { downsample = try SpecDecoder.choice(v, "detector.downsample") }
        if let v = get("freeze_backbone") { freezeBackbone = try bool(v, "detector.freeze_backbone") }
        if let v = get("head_channels") { headChannels = try SpecDecoder.integer(v, "detector.head_channels", expected: "a positive integer") }
        if let v = get("anchor") { anchor = try SpecDecoder.float(v, "detector.anchor") }
        if let v = get("box_weight") { boxWeight = try SpecDecoder.float(v, "detector.box_weight") }
        if let v = get("negative_weight") { negativeWeight = try SpecDecoder.float(v, "detector.negative_weight") }
        if let v = get("class_weight") { classWeight = try SpecDecoder.float(v, "detector.class_weight") }
        if let v = get("classes_per_cell") {
            classesPerCell = try SpecDecoder.integer(v, "detector.classes_per_cell", expected: "a positive integer")
        }
        if let v = get("test_time_flip") { testTimeFlip = try bool(v, "detector.test_time_flip") }
        if let v = get("optimizer") { optimizer = try SpecDecoder.optimizer(v, path: "detector.optimizer") }
        if let v = get("seed") {
            let s = try SpecDecoder.integer(v, "detector.seed", expected: "a non-negative integer")
            guard s >= 0 else { throw AECVError.config("detector.seed: must be a non-negative integer, got \(s)") }
            seed = UInt64(s)
        }
        try validate()
    }

    public func validate() throws {
        if classes < 1 || classes > SpecLimits.maxWidth {
            throw AECVError.config("detector.classes: must be in 1...\(SpecLimits.maxWidth), got \(classes)")
        }
        guard input.count == 3, input.allSatisfy({ $0 >= 1 && $0 <= SpecLimits.maxDimension }) else {
            throw AECVError.config("detector.input: expected 3 integers [C, H, W] in 1...\(SpecLimits.maxDimension), got \(input)")
        }
        let (hw, o1) = input[1].multipliedReportingOverflow(by: input[2])
        let (size, o2) = hw.multipliedReportingOverflow(by: input[0])
        if o1 || o2 || size > SpecLimits.maxInputSize {
            throw AECVError.config("detector.input: \(input) exceeds \(SpecLimits.maxInputSize) floats per image")
        }
        if backbone.isEmpty || backbone.count > 8 {
            throw AECVError.config("detector.backbone: needs 1...8 stages, got \(backbone.count)")
        }
        for (i, c) in backbone.enumerated() where c < 1 || c > 4096 {
            throw AECVError.config("detector.backbone[\(i)]: must be in 1...4096, got \(c)")
        }
        if input[1] % stride != 0 || input[2] % stride != 0 {
            throw AECVError.config("detector.input: H and W must be divisible by the backbone's stride \(stride) (\(backbone.count) stride-2 stages), got \(input[1])×\(input[2])")
        }
        if headChannels < 1 || headChannels > 4096 {
            throw AECVError.config("detector.head_channels: must be in 1...4096, got \(headChannels)")
        }
        if !(anchor.isFinite && anchor > 0) { throw AECVError.config("detector.anchor: must be a positive number, got \(anchor)") }
        if !(boxWeight.isFinite && boxWeight >= 0) { throw AECVError.config("detector.box_weight: must be a non-negative number, got \(boxWeight)") }
        if !(negativeWeight.isFinite && negativeWeight >= 0) {
            throw AECVError.config("detector.negative_weight: must be a non-negative number, got \(negativeWeight)")
        }
        if !(classWeight.isFinite && classWeight >= 0) {
            throw AECVError.config("detector.class_weight: must be a non-negative number, got \(classWeight)")
        }
        if classesPerCell < 1 || classesPerCell > classes {
            throw AECVError.config("detector.classes_per_cell: must be in 1...\(classes) (the classes), got \(classesPerCell)")
        }
        try optimizer.validate(path: "detector.optimizer")
    }

    public func jsonValue() -> JSONValue {
        // The stage options only when set: a plain detector's spec (and file) is what it was
        // before they existed, and a reader without them refuses a detector that needs them.
        let stages = (batchNorm ? [JSONMember("batch_norm", .bool(true))] : [])
            + (downsample != .stride ? [JSONMember("downsample", .string(downsample.rawValue))] : [])
        return .object([JSONMember("classes", .int(Int64(classes))),
                 JSONMember("input", .array(input.map { .int(Int64($0)) })),
                 JSONMember("backbone", .array(backbone.map { .int(Int64($0)) }))] + stages + [
                 JSONMember("freeze_backbone", .bool(freezeBackbone)),
                 JSONMember("head_channels", .int(Int64(headChannels))),
                 JSONMember("anchor", floatJSON(anchor)),
                 JSONMember("box_weight", floatJSON(boxWeight)),
                 JSONMember("negative_weight", floatJSON(negativeWeight)),
                 JSONMember("class_weight", floatJSON(classWeight)),
                 JSONMember("classes_per_cell", .int(Int64(classesPerCell))),
                 JSONMember("test_time_flip", .bool(testTimeFlip)),
                 JSONMember("optimizer", optimizer.jsonValue()),
                 JSONMember("seed", .int(Int64(seed)))])
    }

    public func jsonString() -> String { jsonValue().serialized() }
}
