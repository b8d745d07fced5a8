import FoundationEssentials
import SmartSyncCore

extension AllowedSigners {
    /// Key type names OpenSSH knows that this module does not verify; such lines are accepted and never match.
    static let otherKeyTypes: Set<String> = [
        "ssh-dss", "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
        "ssh-rsa-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
    ]
    static let verifiableKeyTypes: Set<String> = [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    ]

    /// One line: nil for a blank or comment line. Follows ssh-keygen's `parse_principals_key_and_options`.
    static func parseLine(_ text: Substring, location: String, line: Int) throws -> Entry? {
        var cursor = LineCursor(text)
        cursor.skipSpace()
        guard let first = cursor.peek, first != UInt8(ascii: "#") else { return nil }
        func invalid(_ why: String, hint: String? = nil) -> SmartSyncError {
            SmartSyncError(
                .invalidArgument, "\(location): \(why)", hint: hint ?? "see ALLOWED SIGNERS in ssh-keygen(1)")
        }
        guard let principals = cursor.principalsToken() else { throw invalid("unterminated quote in the principals") }
        cursor.skipSpace()
        guard !cursor.isAtEnd else { throw invalid("no key after the principals \"\(principals)\"") }
        var options = ""
        let mark = cursor.position
        var keyType = cursor.word()
        if !verifiableKeyTypes.contains(keyType) && !otherKeyTypes.contains(keyType) {
            cursor.position = mark
            guard let raw = cursor.optionsToken() else { throw invalid("unterminated quote in the options") }
            options = raw
            cursor.skipSpace()
            guard !cursor.isAtEnd else { throw invalid("no key after the options \"\(options)\"") }
            keyType = cursor.word()
            guard verifiableKeyTypes.contains(keyType) || otherKeyTypes.contains(keyType) else {
                throw invalid("unknown key type \"\(keyType)\"")
            }
        }
        cursor.skipSpace()
        let base64 = cursor.word()
        guard let decoded = Data(base64Encoded: base64), !decoded.isEmpty else {
            throw invalid("the \(keyType) key's base64 is damaged")
        }
        let blob = Array(decoded)
        var reader = SSHWireReader(blob)
        guard reader.text() == keyType else { throw invalid("the key's encoding is not a \(keyType) key") }
        if verifiableKeyTypes.contains(keyType) {
            _ = try SSHPublicKey(blob: blob, source: location, code: .invalidArgument)
        }
        var entry = Entry(
            principals: principals, namespaces: nil, validAfter: nil, validBefore: nil, keyType: keyType,
            keyBlob: blob, line: line)
        try parseOptions(options, into: &entry, invalid: invalid)
        return entry
    }

    /// The options field (`sshsigopt_parse`): comma-separated, names case-insensitive, values in double quotes.
    private static func parseOptions(
        _ options: String, into entry: inout Entry, invalid: (String, String?) -> SmartSyncError
    ) throws {
        var rest = Substring(options)
        while !rest.isEmpty {
            if let afterFlag = rest.droppingPrefix("cert-authority") {
                guard afterFlag.isEmpty || afterFlag.first == "," else {
                    throw invalid("unknown option in \"\(options)\"", nil)
                }
                throw invalid(
                    "cert-authority lines are not supported: smart-sync verifies plain keys, not certificates",
                    "list each signer's own public key instead of the certificate authority")
            }
            guard let equals = rest.firstIndex(of: "=") else { throw invalid("unknown option \"\(rest)\"", nil) }
            let name = rest[..<equals].lowercased()
            rest = rest[rest.index(after: equals)...]
            guard let value = dequote(&rest) else {
                throw invalid("the \(name) option's value must be in double quotes", nil)
            }
            switch name {
            case "namespaces":
                guard entry.namespaces == nil else { throw invalid("more than one namespaces option", nil) }
                entry.namespaces = value
            case "valid-after", "valid-before":
                guard let time = SSHTime.parse(value), time != 0 else {
                    throw invalid(
                        "invalid \(name) time \"\(value)\"", "write YYYYMMDD[HHMM[SS]], with a Z suffix for UTC")
                }
                if name == "valid-after" {
                    guard entry.validAfter == nil else { throw invalid("more than one valid-after option", nil) }
                    entry.validAfter = time
                } else {
                    guard entry.validBefore == nil else { throw invalid("more than one valid-before option", nil) }
                    entry.validBefore = time
                }
            default:
                throw invalid("unknown option \"\(name)\"", "the options are namespaces, valid-after and valid-before")
            }
            if rest.isEmpty { break }
            guard rest.first == "," else { throw invalid("unknown option after \"\(name)\"", nil) }
            rest = rest.dropFirst()
            guard !rest.isEmpty else { throw invalid("the options end with a comma", nil) }
        }
        if let after = entry.validAfter, let before = entry.validBefore, before <= after {
            throw invalid("valid-before is not later than valid-after", nil)
        }
    }

    /// Reads `"value"` from the start of `text` (`\"` stands for a quote), leaving what follows the closing quote.
    private static func dequote(_ text: inout Substring) -> String? {
        guard text.first == "\"" else { return nil }
        var value = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == "\\", text.index(after: index) < text.endIndex, text[text.index(after: index)] == "\"" {
                value.append("\"")
                index = text.index(index, offsetBy: 2)
            } else if character == "\"" {
                text = text[text.index(after: index)...]
                return value
            } else {
                value.append(character)
                index = text.index(after: index)
            }
        }
        return nil
    }
}

extension Substring {
    /// What follows `prefix` (compared without case), or nil.
    fileprivate func droppingPrefix(_ prefix: String) -> Substring? {
        guard count >= prefix.count, self.prefix(prefix.count).lowercased() == prefix else { return nil }
        return dropFirst(prefix.count)
    }
}
