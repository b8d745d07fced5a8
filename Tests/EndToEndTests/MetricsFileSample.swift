import Foundation
import Testing

/// A Prometheus text file read back: samples by name and labels (what a test checks the metrics file against).
struct MetricsFileSample {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    /// `# TYPE` lines: family name → type.
    var types: [String: String] = [:]

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw MetricsParseError(line: String(line))
            }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                samples.append(Sample(name: String(series), labels: [:], value: value))
                continue
            }
            samples.append(
                Sample(
                    name: String(series[..<brace]),
                    labels: try Self.labels(series[series.index(after: brace)...].dropLast()),
                    value: value))
        }
    }

    /// `a="x",b="y\"z"` → labels (escapes undone).
    static func labels(_ text: Substring) throws -> [String: String] {
        var out: [String: String] = [:]
        var rest = text
        while !rest.isEmpty {
            guard let eq = rest.firstIndex(of: "=") else { throw MetricsParseError(line: String(text)) }
            let name = String(rest[..<eq])
            rest = rest[rest.index(eq, offsetBy: 2)...]
            var value = ""
            var escaped = false
            while let c = rest.first {
                rest = rest.dropFirst()
                if escaped {
                    value.append(c == "n" ? "\n" : c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    break
                } else {
                    value.append(c)
                }
            }
            out[name] = value
            if rest.first == "," { rest = rest.dropFirst() }
        }
        return out
    }

    /// The value of the one sample of `name` whose labels include `labels`; nil when there is none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        return matching.count == 1 ? matching[0].value : nil
    }

    /// Every sample of `name` whose labels include `labels`.
    func all(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
    }
}

struct MetricsParseError: Error, CustomStringConvertible {
    var line: String
    var description: String { "not a sample line of the Prometheus text format: \(line)" }
}
