import Foundation
import SmartSyncSignatures
import TestSupport
import Testing

/// Parsing allowed-signers files: what is accepted, and errors naming path:line.
@Suite struct AllowedSignersParsingTests {
    static let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlYS28QLY+sNKARwP+Gx5Z1s0/WGgaJKEmVq3M5DJCQ"

    @Test func readsPrincipalsOptionsCommentsAndBlankLines() throws {
        let text = """
            # the release signers

              alice@example.com,"bob smith" \(Self.key) alice's laptop
            *@example.com,!eve@example.com NAMESPACES="git,smart-sync",valid-after="20240101",\
            valid-before="20250101Z" \(Self.key)
            ops namespaces="a b" \(Self.key)
            """
        let signers = try AllowedSigners(text: text, source: "signers")
        #expect(signers.entries.map(\.line) == [3, 4, 5])
        #expect(signers.entries[0].principals == "alice@example.com,bob smith")
        #expect(signers.entries[0].namespaces == nil)
        #expect(signers.entries[1].principals == "*@example.com,!eve@example.com")
        #expect(signers.entries[1].namespaces == "git,smart-sync")
        #expect(signers.entries[1].validBefore == 1_735_689_600)  // 2025-01-01T00:00:00Z
        #expect(signers.entries[1].validAfter != nil)
        #expect(signers.entries[2].namespaces == "a b")
        #expect(signers.entries.allSatisfy { $0.keyType == "ssh-ed25519" && $0.keyBlob.count == 51 })
    }

    @Test(arguments: [
        ("alice", "no key after the principals"),
        ("alice bogus-option=\"1\" \(key)", "unknown option \"bogus-option\""),
        ("alice cert-authority \(key)", "cert-authority lines are not supported"),
        ("alice namespaces=git \(key)", "must be in double quotes"),
        ("alice namespaces=\"git\",namespaces=\"x\" \(key)", "more than one namespaces option"),
        ("alice valid-before=\"2025-01-01\" \(key)", "invalid valid-before time \"2025-01-01\""),
        (
            "alice valid-after=\"20250101\",valid-before=\"20240101\" \(key)",
            "valid-before is not later than valid-after"
        ),
        ("alice ssh-ed25519 AAAA!!!", "base64 is damaged"),
        ("alice ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFlYS28QLY+sNKARwP+Gx5Z1s0/WGgaJKEmVq3M5DJCQ", "not a ssh-rsa key"),
        ("alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQA=", "an Ed25519 key is 32 bytes"),
        ("alice namespaces=\"git \(key)", "unterminated quote"),
    ])
    func malformedLineIsNamedByPathAndLine(line: String, phrase: String) throws {
        let directory = try TemporaryDirectory(prefix: "allowed")
        let path = directory["allowed_signers"]
        try TestFiles.write(path, "# first line\n\(line)\n")
        let error = #expect(throws: SmartSyncError.self) { try AllowedSigners(contentsOf: path) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.hasPrefix("\(path):2: ") == true, "\(String(describing: error))")
        #expect(error?.message.contains(phrase) == true, "\(String(describing: error))")
    }

    @Test func missingFileIsNamed() throws {
        let directory = try TemporaryDirectory(prefix: "allowed")
        let error = #expect(throws: SmartSyncError.self) { try AllowedSigners(contentsOf: directory["missing"]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(directory["missing"]) == true)
        // The reason is strerror's words: of open for a missing file, of the failed read for a directory.
        #expect(error?.message.hasSuffix(": No such file or directory") == true, "\(String(describing: error))")
        try TestFiles.makeDirectories(directory["dir"])
        let unreadable = #expect(throws: SmartSyncError.self) { try AllowedSigners(contentsOf: directory["dir"]) }
        #expect(unreadable?.message.contains(directory["dir"]) == true)
        #expect(unreadable?.message.hasSuffix(": Is a directory") == true, "\(String(describing: unreadable))")
    }

    @Test func keysThisModuleCannotVerifyAreKeptButNeverMatch() throws {
        let lab = try SigningLab()
        let dsa = try lab.makeKey("old", type: "dsa")
        let signers = try AllowedSigners(text: "old \(try lab.publicKey(dsa))\n", source: "signers")
        #expect(signers.entries.first?.keyType == "ssh-dss")
    }
}
