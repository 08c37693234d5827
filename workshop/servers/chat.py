"""The reference chat room: every posted note fans out to every subscriber as it happens.

It runs on grpc.aio, so a subscriber costs a queue and a coroutine, not a thread: a thousand
listeners need no thread pool of a thousand. Each subscriber waits on its own queue (no polling,
no busy loop), leaves the room when its call ends for any reason, and is cut off if it falls
too far behind.

The room's rules live here once, for this server and for the learner's (Exercise 8.1):
`problem_with_note` says which notes are refused and why, and `History` numbers, time-stamps
and remembers the last HISTORY notes.
"""
from __future__ import annotations

import asyncio
import collections
import typing

import grpc

from workshop.protos import chat_pb2, chat_pb2_grpc

ASYNCIO = True  # tells server_runner to serve this module with grpc.aio
HISTORY = 50  # notes the room remembers for newcomers (SubscribeRequest.replay asks for some)
MAX_NAME = 32
MAX_MESSAGE = 20_000
MAX_BACKLOG = 1_000  # notes a subscriber may lag behind before it is cut off


def problem_with_note(note: chat_pb2.Note) -> str | None:
    """Why `note` cannot be posted, in words a learner understands; None if it can."""
    if not note.name.strip():
        return "the note has no name; say who is writing"
    if len(note.name) > MAX_NAME:
        return f"the name is {len(note.name)} characters long; the limit is {MAX_NAME}"
    if not note.message.strip():
        return "the message is empty; there is nothing to send"
    if len(note.message) > MAX_MESSAGE:
        return f"the message is {len(note.message):,} characters long; the limit is {MAX_MESSAGE:,}"
    return None


class History:
    """What was said lately: each note added gets the next sequence number and the time.

    It takes no lock of its own: a threaded server calls it under the lock that also guards its
    subscribers, so that numbering a note and handing it out happen as one step.
    """

    def __init__(self, size: int = HISTORY):
        self.notes: collections.deque[chat_pb2.Note] = collections.deque(maxlen=size)
        self.sequence = 0

    def add(self, note: chat_pb2.Note) -> chat_pb2.Note:
        """A numbered, time-stamped copy of `note`, remembered for newcomers."""
        self.sequence += 1
        stamped = chat_pb2.Note(name=note.name, message=note.message, sequence=self.sequence)
        stamped.sent_at.GetCurrentTime()
        self.notes.append(stamped)
        return stamped

    def last(self, count: int) -> list[chat_pb2.Note]:
        """The last `count` notes, oldest first (none for 0 or less, at most what is kept)."""
        return list(self.notes)[-count:] if count > 0 else []

    def __len__(self) -> int:
        return len(self.notes)


class CallEnds(typing.NamedTuple):
    """Put in a subscriber's inbox to end its call with this status."""

    code: grpc.StatusCode
    details: str


class ChatRoom:
    """Who is listening (an asyncio.Queue each), and what was said lately."""

    def __init__(self, history: int = HISTORY):
        self.history = History(history)
        self.listeners: set[asyncio.Queue] = set()

    def join(self, replay: int) -> asyncio.Queue:
        inbox: asyncio.Queue = asyncio.Queue()
        for note in self.history.last(replay):
            inbox.put_nowait(note)
        self.listeners.add(inbox)
        return inbox

    def leave(self, inbox: asyncio.Queue) -> None:
        self.listeners.discard(inbox)

    def post(self, note: chat_pb2.Note) -> chat_pb2.Note:
        stamped = self.history.add(note)
        for inbox in list(self.listeners):
            if inbox.qsize() >= MAX_BACKLOG:
                self.leave(inbox)
                inbox.put_nowait(CallEnds(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                          f"you fell more than {MAX_BACKLOG} notes behind; subscribe again"))
            else:
                inbox.put_nowait(stamped)
        return stamped

    async def deliver(self, inbox: asyncio.Queue, context):
        """Yield the notes arriving in `inbox` until the call ends; always leaves the room."""
        try:
            while True:
                note = await inbox.get()  # sleeps until a note arrives: no polling
                if isinstance(note, CallEnds):
                    await context.abort(note.code, note.details)
                yield note
        finally:  # reached on cancellation and disconnects too
            self.leave(inbox)


class ChatServer(chat_pb2_grpc.ChatServerServicer):
    """The ChatServer service from protos/chat.proto."""

    def __init__(self, room: ChatRoom):
        self.room = room

    async def Subscribe(self, request, context):
        inbox = self.room.join(request.replay)
        try:
            await context.send_initial_metadata(())  # tells the client it is in the room now
            async for note in self.room.deliver(inbox, context):
                yield note
        finally:  # a client that cancels at once makes send_initial_metadata raise, before deliver
            self.room.leave(inbox)

    async def Post(self, request, context):
        problem = problem_with_note(request)
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        return chat_pb2.PostResponse(sequence=self.room.post(request).sequence)

    async def Chat(self, request_iterator, context):
        inbox = self.room.join(replay=0)
        try:
            await context.send_initial_metadata(())  # tells the client it is in the room now
        except BaseException:  # the client cancelled at once
            self.room.leave(inbox)
            raise

        async def post_what_the_client_sends():
            async for note in request_iterator:
                problem = problem_with_note(note)
                if problem:  # only the handler itself can end the call: hand it the verdict
                    inbox.put_nowait(CallEnds(grpc.StatusCode.INVALID_ARGUMENT, problem))
                    return
                self.room.post(note)

        sender = asyncio.ensure_future(post_what_the_client_sends())
        try:
            async for note in self.room.deliver(inbox, context):
                yield note
        finally:
            sender.cancel()


def add_to_server(server) -> None:
    chat_pb2_grpc.add_ChatServerServicer_to_server(ChatServer(ChatRoom()), server)
