#if !KEEP_FUZZ
import Foundation

/// Without libFuzzer (a normal build), the target replays the files named on the command line — for reproducing a
/// crash found by the fuzzer or checking a corpus.
@main
enum Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            LMTPFuzzCase.run(Array(data))
        }
    }
}
#endif
