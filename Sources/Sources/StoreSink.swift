import GitObjects
import ObjectStore
import SmartSyncCore
import Transfer

/// Streams a response body into an ``ObjectWriter``: hashed and `pwrite`n inside the transfer callback.
///
/// `@unchecked Sendable`: the engine calls it from its thread while the transfer runs; the caller touches it
/// only after `perform` returned. The two never overlap.
final class StoreSink: TransferSink, @unchecked Sendable {
    private let store: ObjectStore
    let want: BlobWant
    private let progress: FetchProgress
    private var writer: ObjectWriter?
    /// The first error met while writing (reported after the transfer).
    private(set) var failure: SmartSyncError?
    private(set) var received = 0

    init(store: ObjectStore, want: BlobWant, progress: FetchProgress) {
        self.store = store
        self.want = want
        self.progress = progress
    }

    func begin(status: Int, headers: HTTPHeaders) -> Bool {
        writer?.abort()
        writer = nil
        guard let size = want.size ?? headers["content-length"].flatMap(Int.init) else {
            failure = SmartSyncError(
                .malformedResponse,
                "no size is known for blob \(want.id) ('\(want.path)'): the tree gave none and the server sent no Content-Length"
            )
            return false
        }
        do {
            writer = try store.makeWriter(expecting: want.id, size: size)
            return true
        } catch let error as SmartSyncError {
            failure = error
            return false
        } catch {
            return false
        }
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard let writer else { return false }
        do {
            try writer.write(chunk)
        } catch let error as SmartSyncError {
            failure = error
            return false
        } catch {
            return false
        }
        received += chunk.count
        progress.bytes(chunk.count)
        return true
    }

    /// Verifies and publishes the object; throws `.integrity` when it does not hash to its id.
    func finish() throws {
        guard let writer else {
            throw failure ?? SmartSyncError(.network, "the body of blob \(want.id) ('\(want.path)') never arrived")
        }
        self.writer = nil
        try writer.commit()
    }

    /// Drops whatever was written.
    func discard() {
        writer?.abort()
        writer = nil
    }
}
