import Glibc

/// Text made by the C library's `vsnprintf` (the C locale: `.` as the decimal point, no grouping): what
/// `String(format:)` printed for the same format and arguments (Foundation formats `%d` and `%f` with the C library
/// too), without Foundation. The arguments are C's (`Int32` for `%d`, `Double` for `%f`); `%@` has no meaning here.
public enum CFormat {
    /// `format` filled with `arguments`.
    public static func string(_ format: String, _ arguments: CVarArg...) -> String {
        let count = withVaList(arguments) { Int(vsnprintf(nil, 0, format, $0)) }
        guard count > 0 else { return "" }
        return String(unsafeUninitializedCapacity: count + 1) { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                withVaList(arguments) { _ = vsnprintf(chars.baseAddress, count + 1, format, $0) }
            }
            return count
        }
    }
}

extension Double {
    /// The number with `places` digits after the point, rounded as `printf("%.*f")` rounds (to nearest, by the
    /// binary value): `2.345.fixed(1)` is `"2.3"`, `(-0.05).fixed(1)` `"-0.1"`, `1e30.fixed(0)` all 31 digits.
    public func fixed(_ places: Int) -> String { CFormat.string("%.*f", Int32(places), self) }
}
