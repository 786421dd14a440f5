/// JSON form of `ModelSpec` (the schema of C_API.md "Model spec"), its validation and its defaults.
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
    /// loss, optimizer, sparsity, noise, base, beta, encoder, decoder.
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
            let (key, amount): (String, Float)
            switch noise {
            case .gaussian(let sigma): (key, amount) = ("gaussian", sigma)
            case .masking(let p): (key, amount) = ("masking", p)
            case .saltPepper(let p): (key, amount) = ("salt_pepper", p)
            }
            m.append(JSONMember("noise", .object([JSONMember(key, floatJSON(amount))])))
        }
        if let base { m.append(JSONMember("base", .string(base.rawValue))) }
        if let beta { m.append(JSONMember("beta", floatJSON(beta))) }
        if let encoder { m.append(JSONMember("encoder", .array(encoder.map { $0.jsonValue() }))) }
        if let decoder { m.append(JSONMember("decoder", .array(decoder.map { $0.jsonValue() }))) }
        return .object(m)
    }

    /// `jsonValue()` as text (compact unless `pretty`).
    public func jsonString(pretty: Bool = false) -> String {
        jsonValue().serialized(pretty: pretty)
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
        let convChannels = [16, 32, 64]
        switch preset {
        case .conv:
            s.hidden = hidden ?? convChannels
        case .dense:
            s.hidden = hidden ?? [256]
            s.latent = latent ?? 64
        case .sparse:
            s.hidden = hidden ?? [256]
            s.latent = latent ?? 64
            s.sparsity = sparsity ?? .l1(lambda: 1e-3, reduction: .mean)
        case .denoising:
            let base = self.base ?? .conv
            s.base = base
            s.noise = noise ?? .gaussian(sigma: 0.3)
            if base == .dense {
                s.hidden = hidden ?? [256]
                s.latent = latent ?? 64
            } else {
                s.hidden = hidden ?? convChannels
            }
        case .vae:
            s.hidden = hidden ?? [400]
            s.latent = latent ?? 20
            s.beta = beta ?? 1
        case .convVAE:
            s.hidden = hidden ?? convChannels
            s.latent = latent ?? 20
            s.beta = beta ?? 1
        case .custom:
            break
        }
        s.loss = loss ?? ((preset == .vae || preset == .convVAE) ? .bce : .mse)
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

        // which fields apply
        let effectiveBase = base ?? .conv
        let presetName = preset.rawValue
        if latent != nil {
            switch preset {
            case .conv:
                throw config("spec.latent: does not apply to the conv preset (its code is the output of the last convolution; set the channels with \"hidden\")")
            case .denoising where effectiveBase == .conv:
                throw config("spec.latent: does not apply to denoising with base conv (its code is the output of the last convolution; set the channels with \"hidden\")")
            case .custom:
                throw config("spec.latent: does not apply to the custom preset (the code is the encoder's output)")
            default: break
            }
        }
        if hidden != nil && preset == .custom {
            throw config("spec.hidden: does not apply to the custom preset (give \"encoder\" and \"decoder\")")
        }
        if sparsity != nil && preset != .sparse {
            throw config("spec.sparsity: only applies to the sparse preset, not \(presetName)")
        }
        if noise != nil && preset != .denoising {
            throw config("spec.noise: only applies to the denoising preset, not \(presetName)")
        }
        if let base {
            if preset != .denoising {
                throw config("spec.base: only applies to the denoising preset, not \(presetName)")
            }
            if base != .conv && base != .dense {
                throw config("spec.base: expected \"conv\" or \"dense\", got \"\(base.rawValue)\"")
            }
        }
        if beta != nil && preset != .vae && preset != .convVAE {
            throw config("spec.beta: only applies to the vae and conv_vae presets, not \(presetName)")
        }
        if preset == .custom {
            if encoder == nil { throw config("spec.encoder: required by the custom preset") }
            if decoder == nil { throw config("spec.decoder: required by the custom preset") }
        } else {
            if encoder != nil {
                throw config("spec.encoder: only applies to the custom preset, not \(presetName)")
            }
            if decoder != nil {
                throw config("spec.decoder: only applies to the custom preset, not \(presetName)")
            }
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
            }
        }
        if let beta { try checkNonNegative(beta, "spec.beta") }
        if let encoder { try validateLayers(encoder, path: "spec.encoder") }
        if let decoder { try validateLayers(decoder, path: "spec.decoder") }
    }
}

// MARK: - validation helpers

func config(_ message: String) -> AECVError { .config(message) }

private func intList(_ values: [Int]) -> String {
    "[" + values.map(String.init).joined(separator: ", ") + "]"
}

/// A float for messages: integral values without ".0" (`-1`), others in shortest form.
func formatFloat(_ f: Float) -> String {
    if f.isFinite && f == f.rounded() && abs(f) < 1e15 { return String(Int64(f)) }
    return f.description
}

/// The JSON number for a Float that parses back (through Double) to the identical Float: the
/// Float's shortest decimal form when that survives the double rounding, else the exact value.
func floatJSON(_ f: Float) -> JSONValue {
    guard f.isFinite else { return .null }
    if let d = Double(f.description), Float(d) == f { return .double(d) }
    return .double(Double(f))
}

private func checkWidth(_ value: Int, _ path: String) throws {
    if value < 1 { throw config("\(path): must be a positive integer, got \(value)") }
    if value > SpecLimits.maxWidth {
        throw config("\(path): \(value) exceeds the limit of \(SpecLimits.maxWidth)")
    }
}

private func checkRange(_ value: Int, _ path: String, min: Int, what: String) throws {
    if value < min { throw config("\(path): must be \(what), got \(value)") }
    if value > SpecLimits.maxDimension {
        throw config("\(path): \(value) exceeds the limit of \(SpecLimits.maxDimension)")
    }
}

private func checkNonNegative(_ value: Float, _ path: String) throws {
    if !(value.isFinite && value >= 0) {
        throw config("\(path): must be a non-negative finite number, got \(formatFloat(value))")
    }
}

private func checkProbability(_ value: Float, _ path: String) throws {
    if !(value >= 0 && value <= 1) {
        throw config("\(path): must be a probability in [0, 1], got \(formatFloat(value))")
    }
}

private func validateLayers(_ layers: [LayerSpec], path: String) throws {
    if layers.isEmpty { throw config("\(path): must contain at least one layer") }
    if layers.count > SpecLimits.maxLayers {
        throw config("\(path): \(layers.count) layers exceeds the limit of \(SpecLimits.maxLayers)")
    }
    for (k, layer) in layers.enumerated() {
        let p = "\(path)[\(k)]"
        switch layer {
        case .dense(let outputs):
            try checkWidth(outputs, "\(p).out")
        case .conv2d(let channels, let kernel, let stride, let padding):
            try checkWidth(channels, "\(p).out")
            try checkRange(kernel, "\(p).kernel", min: 1, what: "a positive integer")
            try checkRange(stride, "\(p).stride", min: 1, what: "a positive integer")
            try checkRange(padding, "\(p).padding", min: 0, what: "a non-negative integer")
        case .convTranspose2d(let channels, let kernel, let stride, let padding, let outputPadding):
            try checkWidth(channels, "\(p).out")
            try checkRange(kernel, "\(p).kernel", min: 1, what: "a positive integer")
            try checkRange(stride, "\(p).stride", min: 1, what: "a positive integer")
            try checkRange(padding, "\(p).padding", min: 0, what: "a non-negative integer")
            try checkRange(outputPadding, "\(p).output_padding", min: 0, what: "a non-negative integer")
            if outputPadding >= stride {
                throw config("\(p).output_padding: must be smaller than the stride \(stride), got \(outputPadding)")
            }
        case .leakyReLU(let slope):
            if !slope.isFinite {
                throw config("\(p).slope: must be a finite number, got \(formatFloat(slope))")
            }
        case .unflatten(let shape):
            if shape.isEmpty || shape.count > 3 || shape.contains(where: { $0 < 1 }) {
                throw config("\(p).shape: expected 1 to 3 positive integers, got \(intList(shape))")
            }
            var size = 1
            for (j, d) in shape.enumerated() {
                if d > SpecLimits.maxDimension {
                    throw config("\(p).shape[\(j)]: \(d) exceeds the limit of \(SpecLimits.maxDimension)")
                }
                size = size.multipliedReportingOverflow(by: d).partialValue
            }
            // At most 3 dimensions of at most 2^16 each: no overflow.
            if size > SpecLimits.maxInputSize {
                throw config("\(p).shape: \(shape.map(String.init).joined(separator: " x ")) = \(size) floats exceeds the limit of \(SpecLimits.maxInputSize)")
            }
        case .relu, .sigmoid, .tanh, .flatten:
            break
        }
    }
}

extension OptimizerSpec {
    /// Checks every field's range (also those the chosen optimizer ignores).
    func validate(path: String) throws {
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
    func jsonValue() -> JSONValue {
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

extension LayerSpec {
    /// `{"type": ..., fields}` as documented on `LayerSpec`, every field written.
    func jsonValue() -> JSONValue {
        func int(_ v: Int) -> JSONValue { .int(Int64(v)) }
        switch self {
        case .dense(let outputs):
            return .object([JSONMember("type", "dense"), JSONMember("out", int(outputs))])
        case .conv2d(let channels, let kernel, let stride, let padding):
            return .object([JSONMember("type", "conv2d"), JSONMember("out", int(channels)),
                            JSONMember("kernel", int(kernel)), JSONMember("stride", int(stride)),
                            JSONMember("padding", int(padding))])
        case .convTranspose2d(let channels, let kernel, let stride, let padding, let outputPadding):
            return .object([JSONMember("type", "conv_transpose2d"), JSONMember("out", int(channels)),
                            JSONMember("kernel", int(kernel)), JSONMember("stride", int(stride)),
                            JSONMember("padding", int(padding)),
                            JSONMember("output_padding", int(outputPadding))])
        case .relu: return .object([JSONMember("type", "relu")])
        case .sigmoid: return .object([JSONMember("type", "sigmoid")])
        case .tanh: return .object([JSONMember("type", "tanh")])
        case .leakyReLU(let slope):
            return .object([JSONMember("type", "leaky_relu"), JSONMember("slope", floatJSON(slope))])
        case .flatten: return .object([JSONMember("type", "flatten")])
        case .unflatten(let shape):
            return .object([JSONMember("type", "unflatten"),
                            JSONMember("shape", .array(shape.map(int)))])
        }
    }
}

// MARK: - structural decoding

/// Turns JSON into a typed `ModelSpec`, checking keys and types (not ranges).
enum SpecDecoder {
    static let topKeys = ["preset", "input", "seed", "latent", "hidden", "loss", "optimizer",
                          "sparsity", "noise", "base", "beta", "encoder", "decoder"]

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
        if let v = get("hidden") {
            switch v {
            case .array(let elements):
                spec.hidden = try elements.enumerated().map {
                    try integer($1, "spec.hidden[\($0)]", expected: "a positive integer")
                }
            case .int, .double:
                spec.hidden = [try integer(v, "spec.hidden", expected: "a positive integer or an array of positive integers")]
            default:
                throw config("spec.hidden: expected a positive integer or an array of positive integers, got \(v.describedForMessage())")
            }
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
        if let v = get("encoder") { spec.encoder = try layers(v, "spec.encoder") }
        if let v = get("decoder") { spec.decoder = try layers(v, "spec.decoder") }
        return spec
    }

    // MARK: sections

    static func optimizer(_ value: JSONValue, path: String = "spec.optimizer") throws -> OptimizerSpec {
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
        let kinds = ["gaussian", "masking", "salt_pepper"]
        try checkKeys(members, allowed: kinds, path: path)
        guard members.count == 1 else {
            throw config("\(path): expected exactly one of {\"gaussian\": sigma}, {\"masking\": p} or {\"salt_pepper\": p}, got \(value.describedForMessage())")
        }
        let member = members[0]
        let amount = try float(member.value, "\(path).\(member.key)")
        switch member.key {
        case "gaussian": return .gaussian(sigma: amount)
        case "masking": return .masking(probability: amount)
        default: return .saltPepper(probability: amount)
        }
    }

    static let layerFields: [String: [String]] = [
        "dense": ["out"],
        "conv2d": ["out", "kernel", "stride", "padding"],
        "conv_transpose2d": ["out", "kernel", "stride", "padding", "output_padding"],
        "relu": [], "sigmoid": [], "tanh": [], "leaky_relu": ["slope"], "flatten": [],
        "unflatten": ["shape"],
    ]
    static let layerTypes = ["dense", "conv2d", "conv_transpose2d", "relu", "sigmoid", "tanh",
                             "leaky_relu", "flatten", "unflatten"]

    static func layers(_ value: JSONValue, _ path: String) throws -> [LayerSpec] {
        guard case .array(let elements) = value else {
            throw config("\(path): expected an array of layer objects, got \(value.describedForMessage())")
        }
        if elements.count > SpecLimits.maxLayers {
            throw config("\(path): \(elements.count) layers exceeds the limit of \(SpecLimits.maxLayers)")
        }
        return try elements.enumerated().map { try layer($1, "\(path)[\($0)]") }
    }

    static func layer(_ value: JSONValue, _ path: String) throws -> LayerSpec {
        let members = try object(value, path)
        let get = { (key: String) in members.first { $0.key == key }?.value }
        guard let typeValue = get("type") else {
            throw config("\(path).type: required, one of \(quotedList(layerTypes))")
        }
        guard case .string(let type) = typeValue, let fields = layerFields[type] else {
            throw config("\(path).type: expected one of \(quotedList(layerTypes)), got \(typeValue.describedForMessage())\(suggestion(typeValue.asString, layerTypes))")
        }
        try checkKeys(members, allowed: ["type"] + fields, path: path, context: " for \(type)")
        func required(_ key: String, _ expected: String) throws -> Int {
            guard let v = get(key) else { throw config("\(path).\(key): required for \(type), \(expected)") }
            return try integer(v, "\(path).\(key)", expected: expected)
        }
        func optional(_ key: String, default d: Int, _ expected: String) throws -> Int {
            guard let v = get(key) else { return d }
            return try integer(v, "\(path).\(key)", expected: expected)
        }
        switch type {
        case "dense":
            return .dense(outputs: try required("out", "a positive integer"))
        case "conv2d", "conv_transpose2d":
            let out = try required("out", "a positive integer")
            let kernel = try required("kernel", "a positive integer")
            let stride = try optional("stride", default: 1, "a positive integer")
            let padding = try optional("padding", default: 0, "a non-negative integer")
            if type == "conv2d" {
                return .conv2d(outputChannels: out, kernelSize: kernel, stride: stride, padding: padding)
            }
            let outputPadding = try optional("output_padding", default: 0, "a non-negative integer")
            return .convTranspose2d(outputChannels: out, kernelSize: kernel, stride: stride,
                                    padding: padding, outputPadding: outputPadding)
        case "relu": return .relu
        case "sigmoid": return .sigmoid
        case "tanh": return .tanh
        case "leaky_relu":
            return .leakyReLU(slope: try get("slope").map { try float($0, "\(path).slope") } ?? 0.01)
        case "flatten": return .flatten
        default:  // unflatten
            guard let v = get("shape") else {
                throw config("\(path).shape: required for unflatten, 1 to 3 positive integers")
            }
            guard case .array(let dims) = v else {
                throw config("\(path).shape: expected 1 to 3 positive integers, got \(v.describedForMessage())")
            }
            return .unflatten(shape: try dims.enumerated().map {
                try integer($1, "\(path).shape[\($0)]", expected: "a positive integer")
            })
        }
    }

    // MARK: primitives

    static func object(_ value: JSONValue, _ path: String) throws -> [JSONMember] {
        guard case .object(let members) = value else {
            throw config("\(path): expected an object, got \(value.describedForMessage())")
        }
        return members
    }

    /// An integer (or a number with an integral value, like 64.0).
    static func integer(_ value: JSONValue, _ path: String, expected: String = "an integer") throws -> Int {
        switch value {
        case .int(let v):
            guard let i = Int(exactly: v) else { throw config("\(path): \(v) is too large") }
            return i
        case .double(let d) where d.isFinite && d == d.rounded():
            guard let i = Int(exactly: d) else {
                throw config("\(path): \(value.describedForMessage()) is too large")
            }
            return i
        default:
            throw config("\(path): expected \(expected), got \(value.describedForMessage())")
        }
    }

    /// A number that fits a Float (range is checked by `validate()`).
    static func float(_ value: JSONValue, _ path: String) throws -> Float {
        guard let d = value.asDouble else {
            throw config("\(path): expected a number, got \(value.describedForMessage())")
        }
        let f = Float(d)
        if !f.isFinite {
            throw config("\(path): \(value.describedForMessage()) is out of the range of a 32-bit float")
        }
        return f
    }

    /// A string naming a case of a `String`-backed enum.
    static func choice<T: RawRepresentable & CaseIterableNames>(_ value: JSONValue, _ path: String) throws -> T
        where T.RawValue == String {
        if case .string(let s) = value, let v = T(rawValue: s) { return v }
        throw config("\(path): expected one of \(quotedList(T.names)), got \(value.describedForMessage())\(suggestion(value.asString, T.names))")
    }

    static func checkKeys(_ members: [JSONMember], allowed: [String], path: String,
                          context: String = "") throws {
        for m in members where !allowed.contains(m.key) {
            throw config("\(path): unknown key \"\(m.key)\"\(context)\(suggestion(m.key, allowed))")
        }
    }
}

/// String-backed enums whose valid names are listed in messages.
protocol CaseIterableNames { static var names: [String] { get } }
extension ModelSpec.Preset: CaseIterableNames { static var names: [String] { allCases.map(\.rawValue) } }
extension ModelSpec.Loss: CaseIterableNames { static var names: [String] { ["mse", "bce"] } }
extension OptimizerSpec.Name: CaseIterableNames { static var names: [String] { ["adam", "sgd"] } }
extension SparsitySpec.Reduction: CaseIterableNames { static var names: [String] { ["mean", "sum"] } }

private func quotedList(_ names: [String]) -> String {
    names.map { "\"\($0)\"" }.joined(separator: ", ")
}

/// ` (did you mean "latent"?)` when a candidate is within edit distance 2 or starts with the
/// word (at least 3 characters of it), else "".
private func suggestion(_ word: String?, _ candidates: [String]) -> String {
    guard let word, word.utf8.count <= 64 else { return "" }
    var best: (String, Int)? = nil
    for c in candidates {
        var d = editDistance(Array(word.utf8), Array(c.utf8))
        if d > 2 && word.utf8.count >= 3 && c.hasPrefix(word) { d = 2 }
        if d <= 2 && d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    guard let best else { return "" }
    return " (did you mean \"\(best.0)\"?)"
}

private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
