/// A test helper that failed (a command, a fixture, a system call), with everything needed to see why.
public struct TestSupportError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) { self.description = description }
}
