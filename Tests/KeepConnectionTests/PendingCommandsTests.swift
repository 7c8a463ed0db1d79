import KeepConnection
import Testing

/// The rule as a value: what is counted, when the input waits, when a command is a flood.
@Suite struct PendingCommandsTests {
    @Test func atTheLimitTheInputWaitsAfterLoginAndTheNextCommandFloodsBefore() {
        var p = PendingCommands(limit: 3)
        for _ in 0..<3 {
            #expect(p.mayTake(strict: false))
            #expect(p.take() == .admitted)
        }
        #expect(p.isFull)
        #expect(!p.mayTake(strict: false))
        #expect(p.mayTake(strict: true))
        #expect(p.take() == .flood)
    }

    @Test func anAnswerMakesRoomForOneMore() {
        var p = PendingCommands(limit: 2)
        _ = p.take()
        _ = p.take()
        #expect(!p.mayTake(strict: false))
        p.answered()
        #expect(p.count == 1)
        #expect(p.mayTake(strict: false))
        #expect(p.take() == .admitted)
    }

    @Test func discardingForgetsEveryPendingCommand() {
        var p = PendingCommands(limit: 5)
        for _ in 0..<4 { _ = p.take() }
        p.discardAll()
        #expect(p.count == 0)
        #expect(!p.isFull)
    }
}
