import CLibCrypto

/// Incremental SHA-1 on OpenSSL's EVP interface.
///
/// Not thread-safe; one instance per stream. The context is freed in `deinit` (a pure C call, no callbacks).
public final class SHA1Hasher {
    private let ctx: OpaquePointer
    private var finished = false

    public init() {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        self.ctx = ctx
        EVP_DigestInit_ex(ctx, EVP_sha1(), nil)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    /// Feeds raw bytes.
    @inlinable
    public func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        updateRaw(base, buffer.count)
    }

    @usableFromInline
    func updateRaw(_ base: UnsafeRawPointer, _ count: Int) {
        precondition(!finished, "SHA1Hasher used after finalize()")
        EVP_DigestUpdate(ctx, base, count)
    }

    /// Feeds a byte sequence.
    public func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// Finishes and returns the digest. The hasher cannot be used afterwards.
    public func finalize() -> ObjectID {
        precondition(!finished, "SHA1Hasher finalized twice")
        finished = true
        var out = [UInt8](repeating: 0, count: 20)
        var len: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &len)
        return ObjectID(bytes: out)!
    }
}
