extension Array {
    /// Makes room for `room` more elements, growing the capacity at least twofold when it must grow: a loop reserving
    /// as it goes stays linear (`reserveCapacity` allocates exactly what it is asked for, so asking for a little
    /// more at every step would copy the whole array each time).
    mutating func reserve(room: Int) {
        let needed = count + room
        if capacity < needed { reserveCapacity(Swift.max(needed, 2 * capacity)) }
    }
}
