import KeepConnection
import NIOCore
import NIOEmbedded
import Testing

/// `CommandFlow` on an embedded channel: reads withheld at the limit and passed on when answers make room; a
/// connection at the limit whose output is backed up is reported after the stall timeout, and only then.
@Suite struct CommandFlowTests {
    /// Counts the reads that reach the channel.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// Forwards `read` to the flow under test, as a protocol handler does.
    final class FlowHandler: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        let flow: CommandFlow
        var buffered = 0
        var context: ChannelHandlerContext?
        init(_ flow: CommandFlow) { self.flow = flow }
        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func read(context: ChannelHandlerContext) { flow.read(context, buffered: buffered) }
    }

    static func setUp(limit: Int, stallMs: Int64 = 1_000, budget: Int = 1_000) throws
        -> (EmbeddedChannel, CommandFlow, FlowHandler, ReadCounter) {
        let counter = ReadCounter()
        let flow = CommandFlow(CommandFlow.Settings(limit: limit, stallTimeout: .milliseconds(stallMs),
                                                    readerStallTimeout: .seconds(60), provenReaderBytes: 1 << 20,
                                                    readBudget: budget, commandsPerTurn: 3,
                                                    readerOutputBuffer: 65_536))
        let handler = FlowHandler(flow)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([counter, handler])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1143)).wait()
        return (channel, flow, handler, counter)
    }

    @Test func readsAreWithheldAtTheLimitAndPassedOnWhenAnAnswerMakesRoom() throws {
        let (channel, flow, handler, counter) = try Self.setUp(limit: 2)
        channel.read()
        #expect(counter.reads == 1)
        #expect(flow.take() == .admitted)
        #expect(flow.take() == .admitted)
        channel.read()
        #expect(counter.reads == 1)
        #expect(flow.isReadWithheld)
        #expect(!flow.mayTake(strict: false))
        flow.answered()
        flow.resumeReading(handler.context!, buffered: 0)
        #expect(counter.reads == 2)
        #expect(!flow.isReadWithheld)
    }

    @Test func aTurnEndsAfterItsCommandsAndTheNextBeginsAfresh() throws {
        let (_, flow, _, _) = try Self.setUp(limit: 100)
        flow.beginTurn()
        #expect((0..<5).map { _ in flow.mayRunAnother() } == [true, true, true, false, false])
        flow.beginTurn()
        #expect(flow.mayRunAnother())
    }

    @Test func readsAreWithheldWhileTooMuchInputIsHeld() throws {
        let (channel, flow, handler, counter) = try Self.setUp(limit: 100, budget: 1_000)
        handler.buffered = 5_000
        channel.read()
        #expect(counter.reads == 0)
        flow.resumeReading(handler.context!, buffered: 5_000)
        #expect(counter.reads == 0)
        flow.resumeReading(handler.context!, buffered: 10)
        #expect(counter.reads == 1)
    }

    @Test func aConnectionAtTheLimitWhoseOutputIsBackedUpIsReportedAfterTheStallTimeout() throws {
        let (channel, flow, _, _) = try Self.setUp(limit: 2, stallMs: 800)
        var stalls = 0
        flow.start(channel: channel) { stalls += 1 }
        channel.isWritable = false
        _ = flow.take()
        _ = flow.take()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(700))
        #expect(stalls == 0)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
        #expect(stalls == 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(stalls == 1)
    }

    @Test func outputThatDrainsOrAnAnswerKeepsTheWatchQuiet() throws {
        let (channel, flow, _, _) = try Self.setUp(limit: 2, stallMs: 800)
        var stalls = 0
        flow.start(channel: channel) { stalls += 1 }
        _ = flow.take()
        _ = flow.take()
        // At the limit but writable (a slow command, not a client that does not read): never a stall.
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(stalls == 0)
        // Backed up, then the client reads (writable again) before the timeout, and an answer makes room: quiet.
        channel.isWritable = false
        flow.writabilityChanged(writable: false)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(600))
        channel.isWritable = true
        flow.writabilityChanged(writable: true)
        flow.answered()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(stalls == 0)
        // Backed up and full again: the timeout counts from then, not from the first time.
        channel.isWritable = false
        flow.writabilityChanged(writable: false)
        _ = flow.take()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(700))
        #expect(stalls == 0)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(stalls == 1)
    }

    /// A flooder's inline commands fill the pending count only after its output backed up: the clock counts from
    /// the backing up.
    @Test func theStallClockStartsWhenTheOutputBacksUpNotWhenTheLimitIsReached() throws {
        let (channel, flow, _, _) = try Self.setUp(limit: 2, stallMs: 800)
        var stalls = 0
        flow.start(channel: channel) { stalls += 1 }
        channel.isWritable = false
        flow.writabilityChanged(writable: false)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(600))
        #expect(stalls == 0)  // backed up, but below the limit: no flood
        _ = flow.take()
        _ = flow.take()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
        #expect(stalls == 1)
    }

    @Test func belowTheLimitABackedUpOutputIsNeverAFlood() throws {
        let (channel, flow, _, _) = try Self.setUp(limit: 2, stallMs: 100)
        var stalls = 0
        flow.start(channel: channel) { stalls += 1 }
        channel.isWritable = false
        flow.writabilityChanged(writable: false)
        _ = flow.take()
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(stalls == 0)
    }

    @Test func stoppingEndsTheWatch() throws {
        let (channel, flow, _, _) = try Self.setUp(limit: 1, stallMs: 100)
        var stalls = 0
        flow.start(channel: channel) { stalls += 1 }
        channel.isWritable = false
        _ = flow.take()
        flow.stop()
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(stalls == 0)
    }
}
