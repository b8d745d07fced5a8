import Testing

@testable import GitPack

@Suite struct GitPackModuleTests {
    @Test func moduleLinks() {
        #expect(String(describing: GitPack.self) == "GitPack")
    }
}
