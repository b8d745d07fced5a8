import SmartSyncCore

/// Validation and formatting of request header lines for curl's `CURLOPT_HTTPHEADER`.
enum RequestHeaders {
    /// Statuses the engine follows when ``TransferRequest/followRedirects`` is set.
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    /// `Name: Value` lines for `headers`.
    ///
    /// - Throws: `.invalidArgument` for a malformed name or a value with CR, LF or NUL (header injection), and for
    ///   an `Authorization` header, which must go through ``TransferRequest/authorization`` so it is only sent to
    ///   allowed hosts.
    static func lines(for headers: [HTTPHeader]) throws -> [String] {
        try headers.map { header in
            let name = header.name
            guard !name.isEmpty,
                name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") })
            else {
                throw SmartSyncError(.invalidArgument, "'\(name)' is not a valid HTTP header name")
            }
            guard name.lowercased() != "authorization" else {
                throw SmartSyncError(
                    .invalidArgument,
                    "pass credentials with TransferRequest.authorization, not as an Authorization header, "
                        + "so they only reach allowed hosts")
            }
            guard !containsLineBreak(header.value) else {
                throw SmartSyncError(.invalidArgument, "the value of HTTP header '\(name)' contains a line break")
            }
            // "Name:" with nothing after it would make curl drop the header; "Name;" sends it empty.
            return header.value.isEmpty ? "\(name);" : "\(name): \(header.value)"
        }
    }

    /// Refuses a credential that could inject headers. The message never quotes the credential.
    static func validateCredential(_ value: String, url: RequestURL) throws {
        if containsLineBreak(value) {
            throw SmartSyncError(
                .invalidArgument,
                "the credential for \(url.string) contains a line break",
                hint: "check the token (GH_TOKEN, --token-file)")
        }
    }

    /// The `Location` of a redirect response, if it is one.
    static func redirectLocation(of response: TransferResponse) -> String? {
        guard redirectStatuses.contains(response.status),
            let location = response.headers["Location"], !location.isEmpty
        else { return nil }
        return location
    }

    private static func containsLineBreak(_ value: String) -> Bool {
        value.utf8.contains { $0 == 10 || $0 == 13 || $0 == 0 }
    }
}
