%%writefile my_chat_server.py
"""My chat room: Post hands each note to every subscriber; Subscribe streams the notes as they come."""
import queue
import threading

import grpc

from workshop.protos import chat_pb2, chat_pb2_grpc
from workshop.servers.chat import History, problem_with_note  # the kit's: numbering, last 50 notes, rules

MAX_WORKERS = 100  # every open Subscribe holds a worker thread: a room of 50, and free workers for Posts


class ChatServer(chat_pb2_grpc.ChatServerServicer):
    def __init__(self):
        self.history = History()  # history.add(note) numbers and remembers it; history.last(n) replays
        self.inboxes = set()  # one queue per subscriber
        self.lock = threading.Lock()  # held while a note is handed out or a subscriber joins or leaves

    def Subscribe(self, request, context):
        inbox = queue.SimpleQueue()
        with self.lock:
            for note in self.history.last(request.replay):
                inbox.put(note)
            self.inboxes.add(inbox)

        def leave():  # gRPC calls it when the call ends: cancelled, disconnected, or past its deadline
            with self.lock:
                self.inboxes.discard(inbox)
            inbox.put(None)  # wakes the loop below, so it returns and frees its thread

        if not context.add_callback(leave):
            leave()  # the call had already ended
        context.send_initial_metadata(())  # "you are in the room": sent now, before any note
        while (note := inbox.get()) is not None:  # sleeps until a note arrives: no polling
            yield note

    def Post(self, request, context):
        problem = problem_with_note(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        with self.lock:
            note = self.history.add(request)
            for inbox in self.inboxes:
                inbox.put(note)
        return chat_pb2.PostResponse(sequence=note.sequence)


def add_to_server(server):
    chat_pb2_grpc.add_ChatServerServicer_to_server(ChatServer(), server)
