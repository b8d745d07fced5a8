/// A commit body split as git's `parse_buffer_signed_by_header` splits it: the `gpgsig` header's value (its
/// continuation lines start with one space, removed here) is the signature; everything else is the payload
/// that was signed. Other `gpgsig…` headers (`gpgsig-sha256`) belong to neither.
struct SignedCommit {
    /// The body without the signature headers: what the signer signed.
    var payload: [UInt8] = []
    /// The `gpgsig` header's value with its line ends, nil when there is none.
    var signature: [UInt8]?
    /// The committer timestamp (seconds since the epoch), nil when the committer line has none.
    var committerTime: Int64?

    init(body: [UInt8]) {
        let header = Array("gpgsig ".utf8)
        let otherHeader = Array("gpgsig".utf8)
        var inSignature = false
        var otherSignature = false
        var start = 0
        while start < body.count {
            var next = body[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? body.count
            let line = body[start..<next]
            var value: ArraySlice<UInt8>?
            if inSignature && line.first == UInt8(ascii: " ") {
                value = line.dropFirst()
            } else if line.starts(with: header) {
                value = line.dropFirst(header.count)
                otherSignature = false
            } else if line.starts(with: otherHeader) {
                otherSignature = true
            } else if otherSignature && line.first != UInt8(ascii: " ") {
                otherSignature = false
            }
            if let value {
                signature = (signature ?? []) + value
                inSignature = true
            } else {
                if line.first == UInt8(ascii: "\n") { next = body.count }  // the message: the rest, as it is
                if !otherSignature { payload += body[start..<next] }
                inSignature = false
            }
            start = next
        }
        committerTime = Self.committerTime(in: payload)
    }

    /// The timestamp of the `committer Name <email> TIMESTAMP ZONE` header.
    private static func committerTime(in payload: [UInt8]) -> Int64? {
        let key = Array("committer ".utf8)
        var start = 0
        while start < payload.count, let end = payload[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = payload[start..<end]
            if line.isEmpty { return nil }  // end of the headers
            if line.starts(with: key), let close = line.lastIndex(of: UInt8(ascii: ">")) {
                let fields = line[(close + 1)...].split(separator: UInt8(ascii: " "))
                guard let stamp = fields.first else { return nil }
                return Int64(String(decoding: stamp, as: UTF8.self))
            }
            start = end + 1
        }
        return nil
    }
}
