"""The reference chat room over real channels: fan-out, history, validation, leaving, many listeners;
and the pieces Exercise 8.1 shares with it (History, problem_with_note)."""
import asyncio

import grpc
import pytest

from workshop.protos import chat_pb2, chat_pb2_grpc
from workshop.servers import chat


def note(name="ann", message="hello"):
    return chat_pb2.Note(name=name, message=message)


async def subscribers(address, count, *, connections=4):
    """`count` subscriptions spread over a few connections, each confirmed open before returning."""
    channels = [grpc.aio.insecure_channel(address) for _ in range(connections)]
    stubs = [chat_pb2_grpc.ChatServerStub(c) for c in channels]
    calls = [stubs[i % connections].Subscribe(chat_pb2.SubscribeRequest(name=f"s{i}")) for i in range(count)]
    for call in calls:
        await call.wait_for_connection()
    return channels, calls


async def wait_until_listening(room, count, seconds=5):
    for _ in range(int(seconds / 0.02)):
        if len(room.listeners) == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(room.listeners)} listeners, expected {count}")


@pytest.fixture
def in_process_room():
    """A chat server inside the test's own event loop, so the room's state can be inspected."""
    async def start():
        room = chat.ChatRoom()
        server = grpc.aio.server()
        chat_pb2_grpc.add_ChatServerServicer_to_server(chat.ChatServer(room), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return room, server, f"127.0.0.1:{port}"
    return start


def test_two_subscribers_both_receive_a_post(chat_server):
    async def scenario():
        channels, calls = await subscribers(chat_server.address, 2, connections=2)
        async with grpc.aio.insecure_channel(chat_server.address) as channel:
            receipt = await chat_pb2_grpc.ChatServerStub(channel).Post(note(message="both of you"), timeout=5)
        received = [await asyncio.wait_for(call.read(), 5) for call in calls]
        for c in channels:
            await c.close()
        return receipt, received
    receipt, received = asyncio.run(scenario())
    assert [(n.name, n.message, n.sequence) for n in received] == [("ann", "both of you", receipt.sequence)] * 2
    assert received[0].sent_at.seconds > 0


def test_a_subscriber_hears_the_join_header_before_anyone_posts(chat_server):
    with chat_server.channel() as channel:
        call = chat_pb2_grpc.ChatServerStub(channel).Subscribe(chat_pb2.SubscribeRequest(name="ann"), timeout=5)
        assert call.initial_metadata() is not None  # returns only when the header came (or the call ended)
        assert not call.done(), "the stream must stay open after the header"
        call.cancel()


def test_history_numbers_each_note_and_keeps_only_the_last_ones():
    history = chat.History(size=3)
    stamped = [history.add(note(message=f"m{n}")) for n in range(1, 6)]
    assert [n.sequence for n in stamped] == [1, 2, 3, 4, 5] and all(n.sent_at.seconds > 0 for n in stamped)
    assert [n.message for n in history.last(2)] == ["m4", "m5"]  # oldest first
    assert [n.message for n in history.last(100)] == ["m3", "m4", "m5"] and len(history) == 3
    assert history.last(0) == [] and history.last(-1) == []


def test_a_note_is_checked_against_the_rooms_limits():
    assert chat.problem_with_note(note()) is None
    assert chat.problem_with_note(note(name="n" * chat.MAX_NAME)) is None
    assert "the limit is 32" in chat.problem_with_note(note(name="n" * (chat.MAX_NAME + 1)))
    long = chat.problem_with_note(note(message="x" * 1_000_000))
    assert "1,000,000 characters" in long and len(long) < 100  # the size, never the text


def test_two_hundred_concurrent_subscribers_all_receive_every_message(chat_server):
    async def scenario():
        channels, calls = await subscribers(chat_server.address, 200)
        async with grpc.aio.insecure_channel(chat_server.address) as channel:
            stub = chat_pb2_grpc.ChatServerStub(channel)
            for n in range(3):
                await stub.Post(note(message=f"message {n}"), timeout=5)
        got = [[(await asyncio.wait_for(call.read(), 10)).message for _ in range(3)] for call in calls]
        for c in channels:
            await c.close()
        return got
    got = asyncio.run(scenario())
    assert len(got) == 200 and all(messages == ["message 0", "message 1", "message 2"] for messages in got)


def test_new_subscriber_gets_a_bounded_replay_of_recent_notes(in_process_room):
    async def scenario():
        room, server, address = await in_process_room()
        async with grpc.aio.insecure_channel(address) as channel:
            stub = chat_pb2_grpc.ChatServerStub(channel)
            for n in range(60):
                await stub.Post(note(message=f"m{n}"), timeout=5)
            call = stub.Subscribe(chat_pb2.SubscribeRequest(name="late", replay=1000))
            replayed = [(await asyncio.wait_for(call.read(), 5)).message for _ in range(chat.HISTORY)]
            call.cancel()
        await server.stop(0)
        return room, replayed
    room, replayed = asyncio.run(scenario())
    assert replayed == [f"m{n}" for n in range(10, 60)]
    assert len(room.history) == chat.HISTORY


@pytest.mark.parametrize("bad, words", [
    (note(message=""), "message is empty"),
    (note(message="   "), "message is empty"),
    (note(name=""), "has no name"),
    (note(message="x" * (chat.MAX_MESSAGE + 1)), "the limit is 20,000"),
])
def test_invalid_posts_are_rejected_with_invalid_argument(chat_server, bad, words):
    with chat_server.channel() as channel:
        with pytest.raises(grpc.RpcError) as raised:
            chat_pb2_grpc.ChatServerStub(channel).Post(bad, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in raised.value.details()


def test_ten_thousand_characters_and_any_script_arrive_intact(chat_server):
    text = "héllo 👋 مرحبا بالعالم <b>not bold</b> " + "x" * 9_950
    async def scenario():
        channels, (call,) = await subscribers(chat_server.address, 1, connections=1)
        async with grpc.aio.insecure_channel(chat_server.address) as channel:
            await chat_pb2_grpc.ChatServerStub(channel).Post(note(message=text), timeout=5)
        received = await asyncio.wait_for(call.read(), 5)
        await channels[0].close()
        return received.message
    assert asyncio.run(scenario()) == text


def test_cancelled_and_disconnected_subscribers_leave_the_room(in_process_room):
    async def scenario():
        room, server, address = await in_process_room()
        channels, calls = await subscribers(address, 3, connections=2)
        await wait_until_listening(room, 3)
        calls[0].cancel()
        await wait_until_listening(room, 2)
        for c in channels:  # a client that vanishes without cancelling
            await c.close()
        await wait_until_listening(room, 0)
        await server.stop(0)
    asyncio.run(scenario())


def test_bidirectional_chat_sends_and_receives_on_one_stream(chat_server):
    async def scenario():
        async with grpc.aio.insecure_channel(chat_server.address) as channel:
            stub = chat_pb2_grpc.ChatServerStub(channel)
            ann, ben = stub.Chat(), stub.Chat()
            await ann.wait_for_connection()
            await ben.wait_for_connection()
            await asyncio.sleep(0.2)  # both joined before anyone speaks
            await ann.write(note("ann", "hi ben"))
            heard_by_ben = await asyncio.wait_for(ben.read(), 5)
            heard_by_ann = await asyncio.wait_for(ann.read(), 5)
            await ben.write(note("ben", ""))
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await asyncio.wait_for(ben.read(), 5)
            ann.cancel()
            return heard_by_ben, heard_by_ann, raised.value
    heard_by_ben, heard_by_ann, error = asyncio.run(scenario())
    assert (heard_by_ben.name, heard_by_ben.message) == ("ann", "hi ben") == (heard_by_ann.name, heard_by_ann.message)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "empty" in error.details()


def test_a_subscriber_that_falls_too_far_behind_is_cut_off(in_process_room, monkeypatch):
    monkeypatch.setattr(chat, "MAX_BACKLOG", 5)
    async def scenario():
        room, server, address = await in_process_room()
        inbox = room.join(replay=0)
        for n in range(6):
            room.post(note(message=f"m{n}"))
        await server.stop(0)
        return room, [inbox.get_nowait() for _ in range(inbox.qsize())]
    room, queued = asyncio.run(scenario())
    assert not room.listeners
    assert isinstance(queued[-1], chat.CallEnds) and queued[-1].code == grpc.StatusCode.RESOURCE_EXHAUSTED
