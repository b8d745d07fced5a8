import SmartSyncCore
import Testing

@testable import SmartSyncFetch

@Suite("git's environment")
struct GitEnvironmentTests {
    @Test func gitGetsNoTokenNoGitVariableAndNoUserConfig() {
        var inherited = [
            "PATH": "/usr/bin:/bin", "HOME": "/root", "GIT_DIR": "/elsewhere", "GIT_SSL_NO_VERIFY": "1",
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "X: y",
            "GIT_ASKPASS": "/bin/echo", "LC_ALL": "de_DE.UTF-8",
        ]
        for name in ChildEnvironment.tokenVariables { inherited[name] = "secret" }
        #expect(
            ProcessRunner.cleanGitEnvironment(inherited) == [
                "PATH": "/usr/bin:/bin", "HOME": "/root", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_NO_REPLACE_OBJECTS": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C",
            ])
    }

    @Test func gitRunsInTheRepositoryWithTheChangesOnTop() throws {
        let git = try ProcessRunner.git(
            ["status"], in: "/srv/repo", environmentChanges: ["GIT_CONFIG_COUNT": "1", "HOME": nil])
        #expect(git.executable.hasSuffix("/git"))
        #expect(
            git.arguments == [
                "-C", "/srv/repo", "-c", "safe.directory=/srv/repo", "-c", "core.quotepath=off", "status",
            ])
        #expect(git.environment["GIT_CONFIG_COUNT"] == "1")
        #expect(git.environment["HOME"] == nil)
        #expect(ChildEnvironment.tokenVariables.allSatisfy { git.environment[$0] == nil })
    }
}
