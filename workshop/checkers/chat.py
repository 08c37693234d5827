"""Checker for notebook 08: the learner's chat server (Subscribe + Post).

The cases open real Subscribe streams and Post real notes. A stream's reader runs on a thread
and hands what arrives to a queue, so a missing note is a bounded wait, never a hang. Before a
case posts what it checks, it posts probes until every subscriber has heard one: only then are
they all surely in the room (a client cannot otherwise tell when the server has added it).

The last case checks "leave when the call ends" without any Post to help: a Subscribe that never
leaves sleeps in inbox.get() after its client cancelled, and only the next Post would wake it.
So the case opens and cancels more streams than the server's thread pool holds, posts nothing
meanwhile, and then needs a Post to be answered: a pool full of forgotten streams cannot answer.
"""
from __future__ import annotations

import ast
import queue
import threading
import time
from pathlib import Path

import grpc

from workshop.checkers.support import CheckResult, Fail, expect_status, run_checks
from workshop.protos import chat_pb2, chat_pb2_grpc

CALL_TIMEOUT = 2.0  # a Post, or the wait for one note
STREAM_LIFETIME = 30.0  # the deadline of a checker's Subscribe (it cancels them long before)
ROOM_SIZE = 50  # subscribers at once in the capacity case: a workshop room
UNKNOWN_POOL = 110  # a server's thread pool when its module cannot tell (grpc.aio, a reference server)
MOST_STREAMS = 300  # the leaving case opens pool + 10 streams, but never more than this
JOIN_PATIENCE = 2.0  # seconds the leaving case waits for the server to take its streams
IDLE_SECONDS = 1.0
IDLE_CPU_LIMIT = 0.25  # CPU seconds a server may burn in IDLE_SECONDS while subscribers wait
FAN_OUT_HINT = "Post must put each note in every subscriber's inbox, not only the first one's"


class _NoNote(Fail):
    """Nothing arrived in time."""


_ENDED = object()  # put in a listener's queue when its stream ends without an error


class _Listener:
    """One Subscribe stream, read on its own thread into a queue."""

    def __init__(self, stub, name: str, replay: int = 0):
        self.name = name
        self.call = stub.Subscribe(chat_pb2.SubscribeRequest(name=name, replay=replay), timeout=STREAM_LIFETIME)
        self.inbox: queue.Queue = queue.Queue()
        self.heard = threading.Event()
        threading.Thread(target=self._read, name=f"checker-{name}", daemon=True).start()

    def _read(self):
        try:
            for note in self.call:
                self.inbox.put(note)
                self.heard.set()
            self.inbox.put(_ENDED)
        except Exception as error:  # an RpcError, or anything: handed to the case to report
            self.inbox.put(error)
        self.heard.set()

    def next_note(self, timeout: float = CALL_TIMEOUT, waiting_for: str = "a note"):
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise _NoNote(f"subscriber {self.name} got no note within {timeout:g} s while waiting for {waiting_for}",
                          "does Post put the note in every subscriber's inbox, and does Subscribe yield what "
                          "arrives in its inbox?") from None
        if item is _ENDED:
            raise Fail(f"subscriber {self.name}'s stream ended: Subscribe returned",
                       "Subscribe must keep waiting for notes until the call ends")
        if isinstance(item, grpc.RpcError):
            if item.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE,
                               grpc.StatusCode.UNKNOWN):
                raise item  # the checker's usual wording: not done yet, not running, raised
            raise Fail(f"subscriber {self.name}'s stream failed with {item.code().name}: {item.details()}")
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self):
        self.call.cancel()


class _Room:
    """The checker's side of the learner's server: a channel, a stub, and the listeners it opened."""

    def __init__(self, address: str):
        self.channel = grpc.insecure_channel(address)
        self.stub = chat_pb2_grpc.ChatServerStub(self.channel)
        self.listeners: list[_Listener] = []
        self.probes = 0

    def listen(self, name: str, replay: int = 0) -> _Listener:
        listener = _Listener(self.stub, name, replay)
        self.listeners.append(listener)
        return listener

    def post(self, message: str, name: str = "checker") -> int:
        return self.stub.Post(chat_pb2.Note(name=name, message=message), timeout=CALL_TIMEOUT).sequence

    def until_listening(self, listeners: list[_Listener], patience: float = 2.0) -> None:
        """Post probes until every listener has heard one, then drain them: all are in the room."""
        deadline = time.monotonic() + patience
        while True:
            self.probes += 1
            last = f"probe {self.probes}: is everyone listening?"
            try:
                self.post(last)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise Fail(f"with {len(listeners)} subscribers connected, a Post got no answer within "
                               f"{CALL_TIMEOUT:g} s",
                               "every open Subscribe holds one of the server's worker threads, and a Post "
                               "needs a free one: is MAX_WORKERS larger than the number of streams?") from None
                raise
            waiting = [listener for listener in listeners if not listener.heard.is_set()]
            if not waiting:
                break
            if time.monotonic() > deadline:
                heard = len(listeners) - len(waiting)
                raise Fail(f"{heard} of {len(listeners)} subscribers received the notes posted", FAN_OUT_HINT)
            waiting[0].heard.wait(0.1)
        for listener in listeners:  # drain everything up to the last probe
            while True:
                try:
                    note = listener.next_note(waiting_for="the checker's probes")
                except _NoNote:
                    raise Fail(f"subscriber {listener.name} missed a note that was posted to everyone",
                               FAN_OUT_HINT) from None
                if note.message == last:
                    break

    def close(self):
        for listener in self.listeners:
            listener.cancel()
        self.channel.close()


def _in_room(address: str, case):
    def run():
        room = _Room(address)
        try:
            case(room)
        finally:
            room.close()
    return run


def _texts(notes) -> str:
    return ", ".join(repr(note.message) for note in notes)


def _fan_out(room: _Room):
    ann, ben = room.listen("ann"), room.listen("ben")
    room.until_listening([ann, ben])
    room.post("hello, both of you")
    for listener in (ann, ben):
        note = listener.next_note(waiting_for="'hello, both of you'")
        if note.message != "hello, both of you" or note.name != "checker":
            raise Fail(f"subscriber {listener.name} got {note.name!r}: {note.message!r}; "
                       "expected 'checker': 'hello, both of you'")


def _order(room: _Room):
    ann = room.listen("ann")
    room.until_listening([ann])
    texts = ["first", "second", "third"]
    numbers = [room.post(text) for text in texts]
    got = [ann.next_note(waiting_for=f"{text!r}") for text in texts]
    if [note.message for note in got] != texts:
        raise Fail(f"got {_texts(got)}; expected 'first', 'second', 'third'")
    if not numbers[0] < numbers[1] < numbers[2]:
        raise Fail(f"Post answered the sequence numbers {numbers}; expected rising numbers",
                   "number each note in the room (self.sequence += 1) and answer PostResponse(sequence=...)")
    if [note.sequence for note in got] != numbers:
        raise Fail(f"the notes arrived numbered {[n.sequence for n in got]}; Post answered {numbers}",
                   "send the stamped note (the one with its sequence) to the subscribers")


def _replay(room: _Room):
    for number in (1, 2, 3):
        room.post(f"history {number}")
    newcomer = room.listen("newcomer", replay=2)
    try:
        got = [newcomer.next_note(waiting_for="the replayed history") for _ in range(2)]
    except _NoNote as failure:
        raise Fail(failure.got, "join the room with request.replay: the new inbox starts with the last "
                                "`replay` notes of the history") from None
    if [note.message for note in got] != ["history 2", "history 3"]:
        raise Fail(f"a subscriber asking for replay=2 got {_texts(got)} first; expected 'history 2', 'history 3'",
                   "join the room with request.replay: the inbox starts with the last `replay` notes, oldest first")


def _rejects(message: str, what: str):
    def case(room: _Room):
        note = chat_pb2.Note(name="checker", message=message)
        expect_status(lambda: room.stub.Post(note, timeout=CALL_TIMEOUT), grpc.StatusCode.INVALID_ARGUMENT,
                      f"{what}: call context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem) "
                      "when problem_with(request) finds one")
    return case


def _room_of_fifty(room: _Room):
    listeners = [room.listen(f"attendee {n}") for n in range(1, ROOM_SIZE + 1)]
    room.until_listening(listeners, patience=4.0)


def _idle_cpu(pid: int):
    import psutil

    def case(room: _Room):
        ann, ben = room.listen("ann"), room.listen("ben")
        room.until_listening([ann, ben])
        try:
            server = psutil.Process(pid)
            before = sum(server.cpu_times()[:2])
            time.sleep(IDLE_SECONDS)
            used = sum(server.cpu_times()[:2]) - before
        except psutil.Error:
            raise Fail("your server's process is gone", "start it again with server_runner.start(...)") from None
        if used > IDLE_CPU_LIMIT:
            raise Fail(f"with two subscribers waiting and nobody posting, your server used {used:.1f} s of "
                       f"CPU in {IDLE_SECONDS:g} s",
                       "a loop that checks for new notes again and again burns a core per subscriber: "
                       "block on the inbox with inbox.get() instead")
    return case


def _cancelled_leave(room: _Room):
    stays, *leaving = room.listen("stays"), room.listen("leaves 1"), room.listen("leaves 2")
    room.until_listening([stays, *leaving])
    for listener in leaving:
        listener.cancel()
    time.sleep(0.3)
    texts = ["after they left 1", "after they left 2"]
    for text in texts:
        room.post(text)  # must still answer, quickly, with two subscribers gone
    got = [stays.next_note(waiting_for=repr(text)) for text in texts]
    if [note.message for note in got] != texts:
        raise Fail(f"the remaining subscriber got {_texts(got)}; expected {', '.join(map(repr, texts))}")


def _leave_when_cancelled(pool: int):
    streams = min(pool + 10, MOST_STREAMS)

    def case(room: _Room):
        request = chat_pb2.SubscribeRequest(name="leaves", replay=0)
        calls = [room.stub.Subscribe(request, timeout=STREAM_LIFETIME) for _ in range(streams)]
        joined = threading.Semaphore(0)

        def wait_for_the_room(call):
            call.initial_metadata()  # the server's "you are in the room", the first note, or the call's end
            joined.release()

        for call in calls:
            threading.Thread(target=wait_for_the_room, args=(call,), name="checker-joins", daemon=True).start()
        # Wait until the server has taken as many streams as its pool holds (a server that sends no
        # initial metadata is given JOIN_PATIENCE), or until no more join: the pool is full.
        taken, deadline, pause = 0, time.monotonic() + JOIN_PATIENCE, 0.5
        while taken < min(pool, streams) and time.monotonic() < deadline:
            if joined.acquire(timeout=pause if taken else JOIN_PATIENCE):
                taken += 1
            elif taken:
                break
        for call in calls:
            call.cancel()
        time.sleep(0.3)  # the cancellations reach the server; nothing is posted meanwhile
        try:
            room.post("is anyone still holding a thread?")
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            raise Fail(f"after {streams} subscribers cancelled, with no note posted since, a Post got no "
                       f"answer within {CALL_TIMEOUT:g} s",
                       "a cancelled Subscribe must leave the room at once: context.add_callback(lambda: "
                       "self.room.leave(inbox)) puts None in its inbox, so its loop returns and frees its "
                       "thread (and if add_callback returns False, leave at once)") from None
        newcomer = room.listen("newcomer")
        room.until_listening([newcomer])
    return case


def _pool_size(server) -> int:
    """How many worker threads the learner's server has, read from its module (UNKNOWN_POOL if unsure)."""
    target = getattr(server, "target", None)
    if target is None:
        import server_runner

        target = next((entry["target"] for entry in server_runner.list_servers() if entry["address"] == server),
                      None)
    if not isinstance(target, str) or not target.endswith(".py"):
        return UNKNOWN_POOL  # a reference server, served with grpc.aio
    try:
        module = ast.parse(Path(target).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return UNKNOWN_POOL
    values = {}
    for statement in module.body:
        if isinstance(statement, ast.Assign):
            names, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            names, value = [statement.target], statement.value
        else:
            continue
        for name in names:
            if isinstance(name, ast.Name) and name.id in ("MAX_WORKERS", "ASYNCIO"):
                try:
                    values[name.id] = ast.literal_eval(value)
                except ValueError:
                    values[name.id] = None
    if values.get("ASYNCIO"):
        return UNKNOWN_POOL
    if "MAX_WORKERS" not in values:
        import server_runner

        return server_runner.DEFAULT_WORKERS
    workers = values["MAX_WORKERS"]
    return workers if isinstance(workers, int) and workers > 0 else UNKNOWN_POOL


def _server_pid(server) -> int | None:
    pid = getattr(server, "pid", None)
    if pid is None:
        import server_runner

        pid = next((entry["pid"] for entry in server_runner.list_servers() if entry["address"] == server), None)
    return pid


def check_chat_server(server) -> CheckResult:
    """Exercise 8.1: `server` is the RunningServer of my_chat_server.py (or its address)."""
    address = getattr(server, "address", server)
    cases = [
        ("a post reaches both of two subscribers", _fan_out),
        ("notes arrive in the order posted, numbered upwards", _order),
        ("a newcomer asking replay=2 first gets the last 2 notes", _replay),
        ("an empty message → INVALID_ARGUMENT", _rejects("", "an empty message must be refused")),
        ("a 20,001-character message → INVALID_ARGUMENT",
         _rejects("x" * 20_001, "a message longer than 20,000 characters must be refused")),
        ("after 2 of 3 subscribers cancel, posts still reach the third", _cancelled_leave),
    ]
    pid = _server_pid(server)
    if pid is not None:
        cases.append(("waiting subscribers cost no CPU (no busy loop)", _idle_cpu(pid)))
    cases.append((f"{ROOM_SIZE} subscribers at once, and posts still get through", _room_of_fifty))
    # Last: a server that fails it has every worker stuck, and would fail every case after it.
    cases.append(("subscribers that cancel leave, with no post to wake them",
                  _leave_when_cancelled(_pool_size(server))))
    return run_checks("Chat server (Subscribe + Post)", [(label, _in_room(address, case)) for label, case in cases])
