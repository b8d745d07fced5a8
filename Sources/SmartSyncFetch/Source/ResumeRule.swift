/// How a response to a resumed download relates to the bytes kept from earlier attempts: the one rule ``StoreSink``
/// (a blob) and ``MirrorPackSpool`` (a mirror's pack) share.
///
/// A `206` whose `Content-Range` starts at the kept offset continues them; a `206` from byte 0, or a `200` (the
/// server ignored `Range`, or `If-Range` did not match), starts the body over; a `206` from anywhere else is not
/// usable: the kept bytes are dropped and the download asks again.
enum ResumeRule: Equatable {
    /// Append the body to the kept bytes (none kept, or a `206` from exactly there).
    case append
    /// Drop the kept bytes; the body is the whole representation from byte 0.
    case startOver
    /// Drop the kept bytes and stop this attempt: the body starts elsewhere.
    case askAgain

    /// The rule for a response of `status` with `range` (its `Content-Range`, for a `206`) when `kept` bytes are kept.
    init(status: Int, range: ContentRange?, kept: Int) {
        if status == 206 {
            self = range?.first == kept ? .append : range?.first == 0 ? .startOver : .askAgain
        } else {
            self = kept > 0 ? .startOver : .append
        }
    }
}
