import Foundation
import Testing

/// README's install line and `.ci/run` list the same system packages, so what CI installs is what a reader installs.
@Suite struct CIPackagesTests {
    /// The repository's root, from this file's path (`Tests/CoreTests/`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func words(_ text: Substring) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }).map(String.init)
    }

    @Test func readmeInstallsWhatCIInstalls() throws {
        let run = try String(contentsOfFile: Self.root + "/.ci/run", encoding: .utf8)
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        let array = try #require(run.range(of: "packages=(")).upperBound
        let ci = Self.words(run[array..<(try #require(run[array...].firstIndex(of: ")")))])
        let line = try #require(readme.range(of: "apt-get install ")).upperBound
        let end = try #require(readme.range(of: "\n```", range: line..<readme.endIndex)).lowerBound
        let documented = Self.words(readme[line..<end])
        #expect(ci.count > 20)
        #expect(documented == ci)
        #expect(run.split(separator: "\n").allSatisfy { $0.count <= 120 }, "a line of .ci/run over 120 columns")
    }
}
