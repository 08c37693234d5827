%%writefile my_chat_server.py
"""My chat room: Post fans each note out to every subscriber; Subscribe streams notes as they come."""
import collections
import queue
import threading

import grpc

from workshop.protos import chat_pb2, chat_pb2_grpc

# Every open Subscribe keeps one worker thread busy for as long as it lasts, and Posts need free
# workers too. 100 holds a room of 50 attendees with a pane or two each; a waiting thread costs
# some memory and no CPU. (A grpc.aio server, like workshop/servers/chat.py, needs no thread per stream.)
MAX_WORKERS = 100
HISTORY = 50  # notes the room remembers for newcomers
MAX_NAME, MAX_MESSAGE = 32, 20_000


def problem_with(note: chat_pb2.Note) -> str | None:
    """Why `note` cannot be posted; None if it can."""
    if not note.name.strip() or len(note.name) > MAX_NAME:
        return f"a name has 1 to {MAX_NAME} characters"
    if not note.message.strip():
        return "the message is empty; there is nothing to send"
    if len(note.message) > MAX_MESSAGE:
        return f"the message is {len(note.message):,} characters long; the limit is {MAX_MESSAGE:,}"
    return None


class ChatRoom:
    """Who is listening (one inbox each) and the last HISTORY notes. Safe to use from many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.history = collections.deque(maxlen=HISTORY)
        self.inboxes = set()
        self.sequence = 0

    def join(self, replay: int) -> queue.SimpleQueue:
        """A new inbox in the room, already holding the last `replay` notes."""
        inbox = queue.SimpleQueue()
        with self.lock:
            for note in list(self.history)[-replay:] if replay > 0 else []:
                inbox.put(note)
            self.inboxes.add(inbox)
        return inbox

    def leave(self, inbox: queue.SimpleQueue) -> None:
        """Take `inbox` out of the room, and wake its reader with None: "you have left"."""
        with self.lock:
            self.inboxes.discard(inbox)
        inbox.put(None)

    def post(self, note: chat_pb2.Note) -> chat_pb2.Note:
        """Number and time-stamp `note`, remember it, and put it in every inbox."""
        with self.lock:
            self.sequence += 1
            stamped = chat_pb2.Note(name=note.name, message=note.message, sequence=self.sequence)
            stamped.sent_at.GetCurrentTime()
            self.history.append(stamped)
            for inbox in self.inboxes:
                inbox.put(stamped)
        return stamped


class ChatServer(chat_pb2_grpc.ChatServerServicer):
    def __init__(self):
        self.room = ChatRoom()

    def Subscribe(self, request, context):
        inbox = self.room.join(min(request.replay, HISTORY))
        # Runs when the call ends for any reason: the client cancelled, went away, or the deadline passed.
        if not context.add_callback(lambda: self.room.leave(inbox)):
            self.room.leave(inbox)  # the call had already ended
        context.send_initial_metadata(())  # tells the client it is in the room
        while True:
            note = inbox.get()  # sleeps until a note (or None) arrives: no polling
            if note is None:
                return
            yield note

    def Post(self, request, context):
        problem = problem_with(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        return chat_pb2.PostResponse(sequence=self.room.post(request).sequence)


def add_to_server(server):
    chat_pb2_grpc.add_ChatServerServicer_to_server(ChatServer(), server)
