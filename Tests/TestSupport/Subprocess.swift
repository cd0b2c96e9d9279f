import Foundation

/// What a finished subprocess left: its exit status and everything it wrote.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

public struct SubprocessError: Error, CustomStringConvertible {
    public var command: [String]
    public var output: ProcessOutput

    public var description: String {
        "'\(command.joined(separator: " "))' exited with status \(output.status): \(output.stderrText)"
    }
}

/// Runs `executable` (a path, or a name looked up in `PATH`) with `arguments` and waits for it.
///
/// Standard output and error go to temporary files, so a chatty child never blocks on a full
/// pipe. `stdin` is a file to read from (default: nothing). `environment` entries are added to
/// (or replace) this process's environment.
@discardableResult
public func runProcess(
    _ executable: String, _ arguments: [String], stdin: URL? = nil,
    environment: [String: String] = [:], currentDirectory: URL? = nil
) throws -> ProcessOutput {
    let scratch = try TemporaryDirectory(prefix: "proc")
    let outURL = scratch.url.appendingPathComponent("stdout")
    let errURL = scratch.url.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    defer { try? out.close(); try? err.close() }

    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    process.standardOutput = out
    process.standardError = err
    let input = try stdin.map { try FileHandle(forReadingFrom: $0) }
    defer { try? input?.close() }
    process.standardInput = input ?? FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return ProcessOutput(
        status: process.terminationStatus,
        stdout: try Data(contentsOf: outURL),
        stderr: try Data(contentsOf: errURL)
    )
}

/// Like `runProcess`, but throws a `SubprocessError` (with its stderr) on a non-zero exit.
@discardableResult
public func runChecked(
    _ executable: String, _ arguments: [String], stdin: URL? = nil, environment: [String: String] = [:]
) throws -> ProcessOutput {
    let output = try runProcess(executable, arguments, stdin: stdin, environment: environment)
    guard output.status == 0 else {
        throw SubprocessError(command: [executable] + arguments, output: output)
    }
    return output
}

/// `text` as one word of a POSIX shell command: in single quotes, each quote in it closed,
/// escaped and opened again.
public func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// The shell command line that runs `command` (a shell command line) on a terminal: a pty from
/// util-linux `script`, which returns the command's status (`-e`), flushes what it logs (`-f`) and
/// shows on its standard output what the terminal showed, with `\r\n` line ends. `script` runs
/// the command with `$SHELL`, `/bin/sh` when it is unset (dash on Debian, which reports a job
/// ended by a signal where bash does not): the command runs in bash here, wherever the tests run.
/// Two minutes at most: a command that waits for input that never comes fails the test, not the
/// run. `log` is the file `script` also writes what the terminal showed to.
public func terminalCommand(_ command: String, log: String = "/dev/null") -> String {
    "SHELL=/bin/bash timeout -k 5 120 script -qefc \(shellQuoted(command)) \(log)"
}

/// Runs `executable` with `arguments` on a terminal (`terminalCommand`); the output is what the
/// terminal showed (the command's standard output and error together). With `answering`, its
/// `typed` line is written to the terminal once its `prompt` is shown (a password or a
/// confirmation: `getpass` discards what was typed before its prompt). The status is the
/// command's.
public func runOnTerminal(
    _ executable: String, _ arguments: [String], answering: (prompt: String, typed: String)? = nil,
    environment: [String: String] = [:], unsetting: [String] = []
) throws -> ProcessOutput {
    let command = (["env"] + unsetting.flatMap { ["-u", $0] } + [executable] + arguments).map(shellQuoted).joined(separator: " ")
    guard let answering else {
        return try runProcess("bash", ["-c", "true | " + terminalCommand(command)], environment: environment)
    }
    let scratch = try TemporaryDirectory(prefix: "terminal")
    let log = shellQuoted(scratch.file("log").path)
    let feed = """
        (for i in $(seq 1200); do grep -qF -- \(shellQuoted(answering.prompt)) \(log) && break; sleep 0.05; done
         printf '%s\\n' \(shellQuoted(answering.typed)))
        """
    return try withExtendedLifetime(scratch) {
        try runProcess("bash", ["-c", "\(feed) | \(terminalCommand(command, log: log))"], environment: environment)
    }
}
