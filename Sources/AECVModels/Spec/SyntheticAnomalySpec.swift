import AECVNN

/// Options of the `synthetic_anomaly` noise of a `denoising` model (DRAEM-style training: the
/// model sees images with synthetic defects and learns to reconstruct the clean image). JSON:
///
///     "noise": {"synthetic_anomaly": {"probability": 0.5, "area": [0.02, 0.3],
///               "opacity": [0.1, 1], "grid": [2, 8], "source": "shifted"}}
///
/// Every field is optional; the defaults are the initial values below (written back in full).
/// `{"synthetic_anomaly": p}` is short for `{"synthetic_anomaly": {"probability": p}}`.
/// Per example, with `probability`: a mask is drawn from smooth noise (uniform noise on a grid of
/// gh × gw cells, gh and gw drawn from `grid`, bilinearly upsampled, thresholded at the quantile
/// that leaves a fraction a ~ U(area) of the H × W pixels inside), and the masked pixels of every
/// channel become (1 − β)·x + β·source, β ~ U(opacity). `source`: "shifted", the image itself
/// rolled by a random non-zero offset; "batch", another example of the batch (a cut-paste of
/// another texture) rolled likewise. A "batch" source couples the examples, so such a batch is
/// trained in one part (not split among threads), which keeps it reproducible from the seed.
public struct SyntheticAnomalySpec: Equatable, Sendable {
    public enum Source: String, Equatable, Sendable, CaseIterable {
        case shifted, batch
    }

    /// Probability that an example gets a defect (the others are left as they are).
    public var probability: Float = 0.5
    /// Range of the masked fraction of the image.
    public var minimumArea: Float = 0.02, maximumArea: Float = 0.3
    /// Range of the blend weight β of the source.
    public var minimumOpacity: Float = 0.1, maximumOpacity: Float = 1
    /// Range of the noise grid's cells per side (fewer cells: larger, smoother blobs).
    public var minimumGrid = 2, maximumGrid = 8
    public var source: Source = .shifted

    /// Largest grid size accepted.
    static let maxGrid = 256

    public init(probability: Float? = nil, source: Source? = nil) {
        if let probability { self.probability = probability }
        if let source { self.source = source }
    }

    static let keys = ["probability", "area", "opacity", "grid", "source"]

    /// Reads the structure and types (ranges: `validate`).
    init(jsonValue value: JSONValue, path: String) throws {
        self.init()
        if value.asDouble != nil {
            probability = try SpecDecoder.float(value, path)
            return
        }
        guard case .object(let members) = value else {
            throw config("\(path): expected an object with any of \(quotedList(Self.keys)) (or a probability), got \(value.describedForMessage())")
        }
        try SpecDecoder.checkKeys(members, allowed: Self.keys, path: path)
        let get = { (key: String) in members.first { $0.key == key }?.value }
        if let v = get("probability") { probability = try SpecDecoder.float(v, "\(path).probability") }
        if let v = get("area") { (minimumArea, maximumArea) = try Self.floatPair(v, "\(path).area") }
        if let v = get("opacity") { (minimumOpacity, maximumOpacity) = try Self.floatPair(v, "\(path).opacity") }
        if let v = get("grid") {
            guard case .array(let e) = v, e.count == 2 else {
                throw config("\(path).grid: expected 2 integers [min, max], got \(v.describedForMessage())")
            }
            minimumGrid = try SpecDecoder.integer(e[0], "\(path).grid[0]", expected: "a positive integer")
            maximumGrid = try SpecDecoder.integer(e[1], "\(path).grid[1]", expected: "a positive integer")
        }
        if let v = get("source") { source = try SpecDecoder.choice(v, "\(path).source") }
    }

    private static func floatPair(_ v: JSONValue, _ path: String) throws -> (Float, Float) {
        guard case .array(let e) = v, e.count == 2 else {
            throw config("\(path): expected 2 numbers [min, max], got \(v.describedForMessage())")
        }
        return (try SpecDecoder.float(e[0], "\(path)[0]"), try SpecDecoder.float(e[1], "\(path)[1]"))
    }

    func validate(path: String) throws {
        try checkProbability(probability, "\(path).probability")
        for (name, lo, hi) in [("area", minimumArea, maximumArea), ("opacity", minimumOpacity, maximumOpacity)] {
            if !(lo > 0 && lo <= hi && hi <= 1) {
                throw config("\(path).\(name): expected [min, max] with 0 < min <= max <= 1, got [\(formatFloat(lo)), \(formatFloat(hi))]")
            }
        }
        if !(minimumGrid >= 1 && minimumGrid <= maximumGrid && maximumGrid <= Self.maxGrid) {
            throw config("\(path).grid: expected [min, max] with 1 <= min <= max <= \(Self.maxGrid), got [\(minimumGrid), \(maximumGrid)]")
        }
    }

    /// Every field, in the order probability, area, opacity, grid, source.
    func jsonValue() -> JSONValue {
        .object([
            JSONMember("probability", floatJSON(probability)),
            JSONMember("area", .array([floatJSON(minimumArea), floatJSON(maximumArea)])),
            JSONMember("opacity", .array([floatJSON(minimumOpacity), floatJSON(maximumOpacity)])),
            JSONMember("grid", .array([.int(Int64(minimumGrid)), .int(Int64(maximumGrid))])),
            JSONMember("source", .string(source.rawValue)),
        ])
    }
}

extension SyntheticAnomalySpec.Source: CaseIterableNames { package static var names: [String] { allCases.map(\.rawValue) } }
