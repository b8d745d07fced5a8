import TestSupport

extension Fixtures {
    /// A, B (a child of A), and C on a branch `side` from A: B and C are not descendants of each other. `main` stays
    /// checked out, at B.
    static func diverging(_ repo: GitFixture) throws -> (a: String, b: String, c: String) {
        let a = try commitA(repo)
        let b = try commitB(repo)
        try repo.branch("side", at: a)
        try repo.checkout("side")
        try repo.write("side.txt", "a branch of its own\n")
        let c = try repo.commit("C")
        try repo.checkout("main")
        return (a, b, c)
    }
}
