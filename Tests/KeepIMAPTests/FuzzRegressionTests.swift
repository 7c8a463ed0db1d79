import KeepIMAP
import Testing

/// Inputs the fuzzers found crashing; each must only not crash (and give a sensible event).
@Suite struct FuzzRegressionTests {
    @Test func emptyLiteralBracesEndAnOrdinaryLineNotACrash() {
        var framer = CommandFramer()
        framer.append(Array("a LOGIN {}\r\n".utf8))
        #expect(framer.next() == .command(Array("a LOGIN {}\r\n".utf8)))
        framer.append(Array("b {+}\r\nc ~{}\n".utf8))
        while framer.next() != nil {}
    }
}
