/// The Prometheus text exposition format (version 0.0.4), as much of it as the metrics file needs.
struct MetricsText {
    enum Kind: String { case gauge, counter }

    /// One family's samples while it is being filled.
    struct Family {
        fileprivate var lines: [String] = []
        let name: String

        /// Adds a sample; labels are written sorted by name, their values escaped.
        mutating func sample(_ labels: [String: String], _ value: Double) {
            let text = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(MetricsText.escape($0.value))\"" }
            lines.append(
                name + (text.isEmpty ? "" : "{" + text.joined(separator: ",") + "}") + " " + MetricsText.format(value))
        }
    }

    private(set) var text = ""

    /// Adds a family with its help and type, if `fill` gives it a sample.
    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ fill: (inout Family) -> Void) {
        var family = Family(name: name)
        fill(&family)
        guard !family.lines.isEmpty else { return }
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        text += family.lines.map { $0 + "\n" }.joined()
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Integers without a fraction, others in Swift's shortest round-tripping form.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
