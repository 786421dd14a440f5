import AECVKernels
import AECVNN

/// JSON form of `ModelSpec` (the model spec of include/aecv.h), its validation and its defaults.
///
/// Reading goes in two passes: `init(jsonValue:)` checks the structure (known keys, types,
/// exactly-one-of choices) and builds the typed spec with the fields as given; `validate()` then
/// checks ranges, limits and which fields apply to the preset. The same `validate()` guards
/// specs built in Swift (`filled()` calls it). Every error is `AECVError.config` with a message
/// that starts with the field path (`spec.optimizer.learning_rate: ...`).
extension ModelSpec {
    /// Parses and validates a JSON spec. Fields keep the values given (defaults are not filled in;
    /// see `filled()`).
    /// - Throws: `AECVError.config` naming the field, with the expected and the actual value.
    public init(json: String) throws {
        let size = json.utf8.count
        guard size <= SpecLimits.maxSpecBytes else {
            throw AECVError.config(
                "spec: text of \(size) bytes exceeds the limit of \(SpecLimits.maxSpecBytes)")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(json)
        } catch {
            throw AECVError.config("spec: invalid JSON: \(error)")
        }
        try self.init(jsonValue: value)
    }

    /// Builds and validates a spec from a parsed JSON value.
    /// - Throws: `AECVError.config` naming the field.
    public init(jsonValue: JSONValue) throws {
        self = try SpecDecoder.decode(jsonValue)
        try validate()
    }

    /// The spec as JSON: every non-nil field, in the order preset, input, seed, latent, hidden,
    /// loss, optimizer, sparsity, noise, base, beta, encoder, decoder, batch_norm, downsample, upsample.
    public func jsonValue() -> JSONValue {
        var m: [JSONMember] = []
        m.append(JSONMember("preset", .string(preset.rawValue)))
        m.append(JSONMember("input", .array(input.map { .int(Int64($0)) })))
        if let seed {
            // validate() keeps seeds within Int64; larger ones can only be written approximately.
            m.append(JSONMember("seed", Int64(exactly: seed).map(JSONValue.int) ?? .double(Double(seed))))
        }
        if let latent { m.append(JSONMember("latent", .int(Int64(latent)))) }
        if let hidden { m.append(JSONMember("hidden", .array(hidden.map { .int(Int64($0)) }))) }
        if let loss { m.append(JSONMember("loss", .string(loss.rawValue))) }
        if let optimizer { m.append(JSONMember("optimizer", optimizer.jsonValue())) }
        if let sparsity {
            switch sparsity {
            case .l1(let lambda, let reduction):
                m.append(JSONMember("sparsity", .object([
                    JSONMember("l1", floatJSON(lambda)),
                    JSONMember("reduction", .string(reduction.rawValue)),
                ])))
            case .kl(let rho, let beta):
                m.append(JSONMember("sparsity", .object([
                    JSONMember("kl", .object([
                        JSONMember("rho", floatJSON(rho)), JSONMember("beta", floatJSON(beta)),
                    ])),
                ])))
            }
        }
        if let noise {
            let member: JSONMember
            switch noise {
            case .gaussian(let sigma): member = JSONMember("gaussian", floatJSON(sigma))
            case .masking(let p): member = JSONMember("masking", floatJSON(p))
            case .saltPepper(let p): member = JSONMember("salt_pepper", floatJSON(p))
            case .syntheticAnomaly(let a): member = JSONMember("synthetic_anomaly", a.jsonValue())
            }
            m.append(JSONMember("noise", .object([member])))
        }
        if let base { m.append(JSONMember("base", .string(base.rawValue))) }
        if let beta { m.append(JSONMember("beta", floatJSON(beta))) }
        if let classes { m.append(JSONMember("classes", .int(Int64(classes)))) }
        if let encoder { m.append(JSONMember("encoder", .array(encoder.map { $0.jsonValue() }))) }
        if let decoder { m.append(JSONMember("decoder", .array(decoder.map { $0.jsonValue() }))) }
        if let batchNorm { m.append(JSONMember("batch_norm", .bool(batchNorm))) }
        if let downsample { m.append(JSONMember("downsample", .string(downsample.rawValue))) }
        if let upsample { m.append(JSONMember("upsample", .string(upsample.rawValue))) }
        return .object(m)
    }

    /// `jsonValue()` as text (compact unless `pretty`).
    public func jsonString(pretty: Bool = false) -> String {
        jsonValue().serialized(pretty: pretty)
    }

    /// A spec read from a file (a model, or a classifier's autoencoder): a default that changed
    /// after files were written takes its old value, so the file builds the model it was saved
    /// from. A conv or denoising (base conv) spec of 64 px or more without "batch_norm" was
    /// written when no input size had BatchNorm by default; files written since carry the key
    /// (their spec is filled).
    package init(fileJSON json: String) throws {
        self = try ModelSpec(json: json)
        let conv = preset == .conv || (preset == .denoising && (base ?? .conv) == .conv)
        if conv && batchNorm == nil && ModelKinds.isLarge(input) { batchNorm = false }
    }

    /// The validated spec with the preset's defaults filled in: seed 0; Adam (lr 1e-3, betas
    /// 0.9/0.999, eps 1e-8) or SGD (lr 1e-2, momentum 0); loss mse (vae, conv_vae: bce);
    /// dense/sparse hidden [256] latent 64; vae hidden [400] latent 20; conv, conv_vae and
    /// denoising hidden [16, 32, 64]; conv_vae latent 20; denoising base conv, noise gaussian 0.3
    /// (base dense: hidden [256], latent 64); sparse l1 1e-3 (mean); vae/conv_vae beta 1.
    /// Optimizer fields that do not apply to the chosen optimizer are reset to their defaults, so
    /// that `ModelSpec(json: s.jsonString()) == s` for every filled spec.
    public func filled() throws -> ModelSpec {
        try validate()
        var s = self
        s.seed = seed ?? 0
        var optimizer = self.optimizer ?? OptimizerSpec()
        let defaults = OptimizerSpec(name: optimizer.name)
        switch optimizer.name {
        case .adam:
            optimizer.momentum = defaults.momentum
        case .sgd:
            optimizer.beta1 = defaults.beta1
            optimizer.beta2 = defaults.beta2
            optimizer.epsilon = defaults.epsilon
        }
        s.optimizer = optimizer
        kind.fill(&s)
        s.loss = s.loss ?? .mse
        return s
    }

    /// Checks ranges, limits and which fields apply to the preset.
    /// - Throws: `AECVError.config` naming the field.
    public func validate() throws {
        // input
        if input.count != 3 || input.contains(where: { $0 < 1 }) {
            throw config("spec.input: expected 3 positive integers [C, H, W], got \(intList(input))")
        }
        var size = 1
        var overflow = false
        for d in input {
            let (p, o) = size.multipliedReportingOverflow(by: d)
            size = p
            overflow = overflow || o
        }
        if overflow || size > SpecLimits.maxInputSize {
            let product = overflow ? "more than \(Int.max)" : "\(size)"
            throw config("spec.input: \(input.map(String.init).joined(separator: " x ")) = \(product) floats per example exceeds the limit of \(SpecLimits.maxInputSize)")
        }
        for (k, d) in input.enumerated() where d > SpecLimits.maxDimension {
            throw config("spec.input[\(k)]: \(d) exceeds the limit of \(SpecLimits.maxDimension)")
        }

        if let seed, seed > UInt64(Int64.max) {
            throw config("spec.seed: must be at most \(Int64.max), got \(seed)")
        }

        // which fields apply: the kind decides (ModelKind.swift)
        let kind = self.kind
        let given: [(String, Bool)] = [
            ("latent", latent != nil), ("hidden", hidden != nil), ("sparsity", sparsity != nil),
            ("noise", noise != nil), ("base", base != nil), ("beta", beta != nil),
            ("classes", classes != nil), ("encoder", encoder != nil), ("decoder", decoder != nil),
            ("batch_norm", batchNorm != nil), ("downsample", downsample != nil), ("upsample", upsample != nil),
        ]
        for (field, isGiven) in given where isGiven && !kind.accepts(field, in: self) {
            throw config(kind.refusal(field, in: self)
                ?? "spec.\(field): only applies to \(ModelKinds.describeAccepting(field, base: self)), not \(preset.rawValue)")
        }
        if let base, base != .conv && base != .dense {
            throw config("spec.base: expected \"conv\" or \"dense\", got \"\(base.rawValue)\"")
        }
        try kind.validate(self)
        if let loss, loss == .ssim || loss == .mseSSIM, !kind.acceptsStructuralLoss {
            let names = ModelKinds.all.filter(\.acceptsStructuralLoss).map(\.preset.rawValue)
            throw config("spec.loss: \"\(loss.rawValue)\" only applies to the \(names.dropLast().joined(separator: ", ")) and \(names.last!) presets, not \(preset.rawValue) (its losses are \"mse\" (Gaussian decoder) or \"bce\" (Bernoulli))")
        }

        // ranges
        if let latent { try checkWidth(latent, "spec.latent") }
        if let hidden {
            if hidden.isEmpty {
                throw config("spec.hidden: expected a positive integer or a non-empty array of positive integers, got []")
            }
            if hidden.count > SpecLimits.maxLayers {
                throw config("spec.hidden: \(hidden.count) entries exceeds the limit of \(SpecLimits.maxLayers)")
            }
            for (k, h) in hidden.enumerated() { try checkWidth(h, "spec.hidden[\(k)]") }
        }
        if let optimizer { try optimizer.validate(path: "spec.optimizer") }
        if let sparsity {
            switch sparsity {
            case .l1(let lambda, _):
                try checkNonNegative(lambda, "spec.sparsity.l1")
            case .kl(let rho, let beta):
                if !(rho > 0 && rho < 1) {
                    throw config("spec.sparsity.kl.rho: must be in (0, 1), got \(formatFloat(rho))")
                }
                try checkNonNegative(beta, "spec.sparsity.kl.beta")
            }
        }
        if let noise {
            switch noise {
            case .gaussian(let sigma): try checkNonNegative(sigma, "spec.noise.gaussian")
            case .masking(let p): try checkProbability(p, "spec.noise.masking")
            case .saltPepper(let p): try checkProbability(p, "spec.noise.salt_pepper")
            case .syntheticAnomaly(let a): try a.validate(path: "spec.noise.synthetic_anomaly")
            }
        }
        if let beta { try checkNonNegative(beta, "spec.beta") }
        if let classes, !(2...SpecLimits.maxClasses).contains(classes) {
            throw config("spec.classes: must be in 2...\(SpecLimits.maxClasses), got \(classes)")
        }
        if let encoder { try LayerSpec.validate(encoder, path: "spec.encoder") }
        // An empty decoder is the identity: an image-to-image network (a denoiser) whose code is
        // its output.
        if let decoder { try LayerSpec.validate(decoder, path: "spec.decoder", allowEmpty: true) }
    }
}

extension OptimizerSpec {
    /// Checks every field's range (also those the chosen optimizer ignores).
    package func validate(path: String) throws {
        if !(learningRate.isFinite && learningRate > 0) {
            throw config("\(path).learning_rate: must be a positive finite number, got \(formatFloat(learningRate))")
        }
        for (k, b) in [beta1, beta2].enumerated() where !(b >= 0 && b < 1) {
            throw config("\(path).betas[\(k)]: must be in [0, 1), got \(formatFloat(b))")
        }
        if !(epsilon.isFinite && epsilon > 0) {
            throw config("\(path).eps: must be a positive finite number, got \(formatFloat(epsilon))")
        }
        if !(momentum >= 0 && momentum < 1) {
            throw config("\(path).momentum: must be in [0, 1), got \(formatFloat(momentum))")
        }
        try checkNonNegative(weightDecay, "\(path).weight_decay")
    }

    /// The fields that apply to the optimizer, in the order name, learning_rate, betas, eps,
    /// momentum, weight_decay.
    package func jsonValue() -> JSONValue {
        var m = [JSONMember("name", .string(name.rawValue)),
                 JSONMember("learning_rate", floatJSON(learningRate))]
        switch name {
        case .adam:
            m.append(JSONMember("betas", .array([floatJSON(beta1), floatJSON(beta2)])))
            m.append(JSONMember("eps", floatJSON(epsilon)))
        case .sgd:
            m.append(JSONMember("momentum", floatJSON(momentum)))
        }
        m.append(JSONMember("weight_decay", floatJSON(weightDecay)))
        return .object(m)
    }
}

// MARK: - structural decoding

/// Turns JSON into a typed `ModelSpec`, checking keys and types (not ranges).
extension SpecDecoder {
    static let topKeys = ["preset", "input", "seed", "latent", "hidden", "loss", "optimizer",
                          "sparsity", "noise", "base", "beta", "classes", "conditional", "encoder", "decoder",
                          "batch_norm", "downsample", "upsample", "channels"]

    static func decode(_ value: JSONValue) throws -> ModelSpec {
        guard case .object(let members) = value else {
            throw config("spec: expected a JSON object, got \(value.typeName) \(value.describedForMessage(limit: 40))")
        }
        try checkKeys(members, allowed: topKeys, path: "spec")
        let get = { (key: String) in members.first { $0.key == key }?.value }

        guard let presetValue = get("preset") else {
            throw config("spec.preset: required, one of \(quotedList(ModelSpec.Preset.allCases.map(\.rawValue)))")
        }
        let preset: ModelSpec.Preset = try choice(presetValue, "spec.preset")

        guard let inputValue = get("input") else {
            throw config("spec.input: required, expected 3 positive integers [C, H, W]")
        }
        guard case .array(let dims) = inputValue, dims.count == 3,
              dims.allSatisfy({ ($0.asInt ?? 0) >= 1 })
        else {
            throw config("spec.input: expected 3 positive integers [C, H, W], got \(inputValue.describedForMessage())")
        }
        let input = try dims.enumerated().map { try integer($1, "spec.input[\($0)]") }

        var spec = ModelSpec(preset: preset, input: input)
        if let v = get("seed") {
            let seed = try integer(v, "spec.seed", expected: "a non-negative integer")
            guard seed >= 0 else { throw config("spec.seed: must be a non-negative integer, got \(seed)") }
            spec.seed = UInt64(seed)
        }
        if let v = get("latent") {
            spec.latent = try integer(v, "spec.latent", expected: "a positive integer")
        }
        if let v = get("hidden") { spec.hidden = try widths(v, "spec.hidden") }
        if let v = get("channels") {
            if spec.hidden != nil { throw config("spec.channels: give the stages' channels once (\"channels\" or \"hidden\")") }
            spec.hidden = try widths(v, "spec.channels")
        }
        if let v = get("loss") { spec.loss = try choice(v, "spec.loss") }
        if let v = get("optimizer") { spec.optimizer = try optimizer(v) }
        if let v = get("sparsity") { spec.sparsity = try sparsity(v) }
        if let v = get("noise") { spec.noise = try noise(v) }
        if let v = get("base") {
            guard case .string(let s) = v, s == "conv" || s == "dense" else {
                throw config("spec.base: expected \"conv\" or \"dense\", got \(v.describedForMessage())")
            }
            spec.base = s == "conv" ? .conv : .dense
        }
        if let v = get("beta") { spec.beta = try float(v, "spec.beta") }
        if let v = get("classes") { spec.classes = try integer(v, "spec.classes", expected: "an integer K >= 2") }
        if let v = get("conditional") {
            guard case .object(let cm) = v else {
                throw config("spec.conditional: expected {\"classes\": K}, got \(v.describedForMessage())")
            }
            try checkKeys(cm, allowed: ["classes"], path: "spec.conditional")
            guard let k = cm.first(where: { $0.key == "classes" })?.value else {
                throw config("spec.conditional.classes: required, an integer K >= 2")
            }
            if spec.classes != nil { throw config("spec.conditional: give the classes once (\"classes\" or \"conditional\")") }
            spec.classes = try integer(k, "spec.conditional.classes", expected: "an integer K >= 2")
        }
        if let v = get("encoder") { spec.encoder = try LayerSpec.decodeList(v, "spec.encoder") }
        if let v = get("decoder") { spec.decoder = try LayerSpec.decodeList(v, "spec.decoder") }
        if let v = get("batch_norm") {
            guard case .bool(let b) = v else { throw config("spec.batch_norm: expected true or false, got \(v.describedForMessage())") }
            spec.batchNorm = b
        }
        if let v = get("downsample") { spec.downsample = try choice(v, "spec.downsample") }
        if let v = get("upsample") { spec.upsample = try choice(v, "spec.upsample") }
        // "channels" names conv stages, so it applies where the stage options do; on a dense kind
        // it would silently set the layer widths.
        if get("channels") != nil, !spec.kind.accepts(ModelKinds.stageOptions[0], in: spec) {
            throw config("spec.channels: only applies to the conv, conv_vae and denoising (base conv) presets, not \(preset == .denoising ? "denoising with base dense" : preset.rawValue) (its layer widths are \"hidden\")")
        }
        return spec
    }

    /// `"hidden"` / `"channels"`: a positive integer or an array of them.
    private static func widths(_ v: JSONValue, _ path: String) throws -> [Int] {
        switch v {
        case .array(let elements):
            return try elements.enumerated().map { try integer($1, "\(path)[\($0)]", expected: "a positive integer") }
        case .int, .double:
            return [try integer(v, path, expected: "a positive integer or an array of positive integers")]
        default:
            throw config("\(path): expected a positive integer or an array of positive integers, got \(v.describedForMessage())")
        }
    }

    // MARK: sections

    package static func optimizer(_ value: JSONValue, path: String = "spec.optimizer") throws -> OptimizerSpec {
        let members = try object(value, path)
        try checkKeys(members, allowed: ["name", "learning_rate", "betas", "eps", "momentum", "weight_decay"], path: path)
        let get = { (key: String) in members.first { $0.key == key }?.value }
        let name: OptimizerSpec.Name = try get("name").map { try choice($0, "\(path).name") } ?? .adam
        var spec = OptimizerSpec(name: name)
        if let v = get("learning_rate") { spec.learningRate = try float(v, "\(path).learning_rate") }
        if let v = get("betas") {
            guard name == .adam else { throw config("\(path).betas: only applies to adam, not \(name.rawValue)") }
            guard case .array(let betas) = v, betas.count == 2 else {
                throw config("\(path).betas: expected 2 numbers [beta1, beta2], got \(v.describedForMessage())")
            }
            spec.beta1 = try float(betas[0], "\(path).betas[0]")
            spec.beta2 = try float(betas[1], "\(path).betas[1]")
        }
        if let v = get("eps") {
            guard name == .adam else { throw config("\(path).eps: only applies to adam, not \(name.rawValue)") }
            spec.epsilon = try float(v, "\(path).eps")
        }
        if let v = get("momentum") {
            guard name == .sgd else { throw config("\(path).momentum: only applies to sgd, not \(name.rawValue)") }
            spec.momentum = try float(v, "\(path).momentum")
        }
        if let v = get("weight_decay") { spec.weightDecay = try float(v, "\(path).weight_decay") }
        return spec
    }

    static func sparsity(_ value: JSONValue) throws -> SparsitySpec {
        let path = "spec.sparsity"
        let members = try object(value, path)
        try checkKeys(members, allowed: ["l1", "reduction", "kl"], path: path)
        let get = { (key: String) in members.first { $0.key == key }?.value }
        switch (get("l1"), get("kl")) {
        case (let l1?, nil):
            let lambda = try float(l1, "\(path).l1")
            let reduction: SparsitySpec.Reduction =
                try get("reduction").map { try choice($0, "\(path).reduction") } ?? .mean
            return .l1(lambda: lambda, reduction: reduction)
        case (nil, let kl?):
            if get("reduction") != nil {
                throw config("\(path).reduction: only applies to l1, not kl")
            }
            let klPath = "\(path).kl"
            let kMembers = try object(kl, klPath)
            try checkKeys(kMembers, allowed: ["rho", "beta"], path: klPath)
            let kget = { (key: String) in kMembers.first { $0.key == key }?.value }
            guard let rho = kget("rho") else { throw config("\(klPath).rho: required, a number in (0, 1)") }
            let beta = try kget("beta").map { try float($0, "\(klPath).beta") } ?? 1
            return .kl(rho: try float(rho, "\(klPath).rho"), beta: beta)
        case (_?, _?):
            throw config("\(path): expected exactly one of \"l1\" or \"kl\", got both")
        case (nil, nil):
            throw config("\(path): expected exactly one of {\"l1\": lambda} or {\"kl\": {\"rho\": r, \"beta\": b}}, got \(value.describedForMessage())")
        }
    }

    static func noise(_ value: JSONValue) throws -> NoiseSpec {
        let path = "spec.noise"
        let members = try object(value, path)
        let kinds = ["gaussian", "masking", "salt_pepper", "synthetic_anomaly"]
        try checkKeys(members, allowed: kinds, path: path, context: " (allowed: \(quotedList(kinds)))")
        guard members.count == 1 else {
            throw config("\(path): expected exactly one of {\"gaussian\": sigma}, {\"masking\": p}, {\"salt_pepper\": p} or {\"synthetic_anomaly\": {...}}, got \(value.describedForMessage())")
        }
        let member = members[0]
        if member.key == "synthetic_anomaly" {
            return .syntheticAnomaly(try SyntheticAnomalySpec(jsonValue: member.value, path: "\(path).synthetic_anomaly"))
        }
        let amount = try float(member.value, "\(path).\(member.key)")
        switch member.key {
        case "gaussian": return .gaussian(sigma: amount)
        case "masking": return .masking(probability: amount)
        default: return .saltPepper(probability: amount)
        }
    }


}

// The spec enums whose valid names are listed in messages.
extension ModelSpec.Preset: CaseIterableNames { package static var names: [String] { allCases.map(\.rawValue) } }
extension ModelSpec.Loss: CaseIterableNames { package static var names: [String] { allCases.map(\.rawValue) } }
extension ModelSpec.Downsampling: CaseIterableNames { package static var names: [String] { allCases.map(\.rawValue) } }
extension ModelSpec.Upsampling: CaseIterableNames { package static var names: [String] { allCases.map(\.rawValue) } }
extension SparsitySpec.Reduction: CaseIterableNames { package static var names: [String] { ["mean", "sum"] } }
