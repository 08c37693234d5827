"""Checker for Exercise 8.1: the learner's chat servicer (Subscribe + Post), judged by what it does.

The cases open real Subscribe streams and post real notes (see chat_clients). Before a case
posts what it checks, it posts probes until every subscriber has heard one, so no case but the
join header's depends on that header. When something does not come in time and the server
keeps a core busy meanwhile, the hint names the busy loop, not the symptom.

The cases that fill the room (50 subscribers, or more streams than the thread pool holds) each
run on a fresh server from the learner's module, so that no earlier case, and no stream an
earlier case left behind, changes their verdict.
"""
from __future__ import annotations

import threading
import time

import grpc
import psutil

from workshop.checkers.chat_clients import CALL_TIMEOUT, FAN_OUT_HINT, STREAM_LIFETIME, Room, Stalled
from workshop.checkers.support import CheckResult, Fail, Target, expect_status, run_checks, target
from workshop.protos import chat_pb2
from workshop.servers.chat import MAX_MESSAGE, MAX_NAME

ROOM_SIZE = 50  # subscribers at once: a workshop room
MOST_STREAMS = 300  # the leaving case opens the pool's size + 10 streams, but never more than this
JOIN_PATIENCE = 2.0  # seconds the leaving case waits for the server to take its streams
IDLE_SECONDS = 1.0
# CPU seconds the server may use in IDLE_SECONDS while ROOM_SIZE subscribers wait and nobody posts.
# Measured on the kit's 2-core machine (psutil, 1 s windows, 50 subscribers), idle / at load average 5:
#   waiting in inbox.get() (the answer; the grpc.aio reference alike)    0.00 s / 0.00 s, every window
#   10 ms poll: inbox.empty() + time.sleep(0.01), ~5,000 wake-ups a second  0.19-0.25 s / 0.05-0.09 s
#   10 ms poll: inbox.get(timeout=0.01) while context.is_active()          0.22-0.25 s / 0.07-0.14 s
#   100 ms poll                                                            0.01-0.03 s / 0.00-0.02 s
# Linux counts CPU time in 10 ms ticks: 0.035 lets 3 ticks pass, and fails a 10 ms poll even at load 5.
IDLE_CPU_LIMIT = 0.035

HEADER_HINT = ("call context.send_initial_metadata(()) in Subscribe right after joining the room, before "
               "waiting for the first note: until it comes, a pane says 'joining…'")
LEAVE_HINT = ("a cancelled Subscribe still sleeps in inbox.get() and holds its worker thread: leave the room in "
              "context.add_callback(leave), where leave takes the inbox out and puts None into it to wake "
              "the loop (and if add_callback returns False, the call has ended: leave at once)")


def _texts(notes) -> str:
    return ", ".join(repr(note.message) for note in notes)


def _join_header(room: Room):
    ann = room.listen("ann")
    if not ann.joined.wait(CALL_TIMEOUT):
        raise Stalled(f"no join header within {CALL_TIMEOUT:g} s of subscribing, with nobody posting", HEADER_HINT)
    if ann.call.done():
        ann.next_note(waiting_for="the end of the call")  # raises what ended it
    room.post("are you in the room?")  # the header said so: a note posted now must reach ann
    try:
        ann.next_note(waiting_for="'are you in the room?'")
    except Stalled:
        raise Stalled("the join header came, but a note posted right after it never arrived",
                      "join the room first, then send the header: it promises that every later note arrives") from None


def _fan_out(room: Room):
    listeners = [room.listen(name) for name in ("ann", "ben", "cai")]
    room.until_listening(listeners)
    room.post("hello, all of you")
    for listener in listeners:
        note = listener.next_note(waiting_for="'hello, all of you'")
        if (note.name, note.message) != ("checker", "hello, all of you"):
            raise Fail(f"subscriber {listener.name} got {note.name!r}: {note.message!r}; "
                       "expected 'checker': 'hello, all of you'", FAN_OUT_HINT)


def _order(room: Room):
    ann = room.listen("ann")
    room.until_listening([ann])
    texts = ["first", "second", "third"]
    answered = [room.post(text) for text in texts]
    got = [ann.next_note(waiting_for=repr(text)) for text in texts]
    if [note.message for note in got] != texts:
        raise Fail(f"got {_texts(got)}; expected 'first', 'second', 'third'",
                   "hand the notes out in the order they were posted, under one lock")
    if [note.sequence for note in got] != answered or not answered[0] < answered[1] < answered[2]:
        raise Fail(f"the notes arrived numbered {[n.sequence for n in got]}; Post answered {answered}",
                   "hand out the note that history.add(request) returns (numbered), and answer its sequence")


def _replay(room: Room):
    for number in (1, 2, 3):
        room.post(f"history {number}")
    newcomer = room.listen("newcomer", replay=2)
    hint = "a new inbox starts with history.last(request.replay), oldest first, before it joins the room"
    try:
        got = [newcomer.next_note(waiting_for="the replayed history") for _ in range(2)]
    except Stalled as failure:
        raise Stalled(failure.got, hint) from None
    if [note.message for note in got] != ["history 2", "history 3"]:
        raise Fail(f"a subscriber asking for replay=2 got {_texts(got)} first; expected 'history 2', 'history 3'",
                   hint)


INVALID_NOTES = {
    "an empty message": chat_pb2.Note(name="checker", message=""),
    "a message of spaces": chat_pb2.Note(name="checker", message="   "),
    f"a {MAX_MESSAGE + 1:,}-character message": chat_pb2.Note(name="checker", message="x" * (MAX_MESSAGE + 1)),
    "a note without a name": chat_pb2.Note(name="", message="hello"),
    f"a {MAX_NAME + 1}-character name": chat_pb2.Note(name="n" * (MAX_NAME + 1), message="hello"),
}


def _rejects_invalid(room: Room):
    for what, note in INVALID_NOTES.items():
        try:
            expect_status(lambda note=note: room.stub.Post(note, timeout=CALL_TIMEOUT),
                          grpc.StatusCode.INVALID_ARGUMENT,
                          "when problem_with_note(request) finds a problem, end the call with "
                          "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)")
        except Fail as failure:
            raise Fail(f"{what}: {failure.got}", failure.hint) from None


def _idle_cpu(room: Room):
    if room.server.pid is None:
        raise Fail("the checker cannot find your server's process to measure it",
                   "pass the server that server_runner.start(...) returned")
    listeners = [room.listen(f"attendee {n}") for n in range(1, ROOM_SIZE + 1)]
    room.until_listening(listeners, patience=4.0)
    try:
        server = psutil.Process(room.server.pid)
        time.sleep(0.2)  # the last probe's sends are done
        before = sum(server.cpu_times()[:2])
        time.sleep(IDLE_SECONDS)
        used = sum(server.cpu_times()[:2]) - before
    except psutil.Error:
        raise Fail("your server's process is gone", "start it again with server_runner.start(...)") from None
    if used > IDLE_CPU_LIMIT:
        raise Fail(f"with {ROOM_SIZE} subscribers waiting and nobody posting, your server used {used:.2f} s of CPU "
                   f"in {IDLE_SECONDS:g} s (the limit is {IDLE_CPU_LIMIT:g} s)",
                   "each waiting subscriber wakes up again and again to look for notes (polling, or a busy loop): "
                   "block in inbox.get(), which sleeps until a note arrives")


def _room_of(size: int):
    def case(room: Room):
        listeners = [room.listen(f"attendee {n}") for n in range(1, size + 1)]
        room.until_listening(listeners, patience=4.0)
        room.post("welcome, everyone")
        for listener in listeners:
            listener.next_note(waiting_for="'welcome, everyone'")
    return case


def _leave_when_cancelled(room: Room):
    streams = min((room.server.workers or ROOM_SIZE) + 10, MOST_STREAMS)
    request = chat_pb2.SubscribeRequest(name="leaves", replay=0)
    calls = [room.stub.Subscribe(request, timeout=STREAM_LIFETIME) for _ in range(streams)]
    joined = threading.Semaphore(0)

    def wait_for_the_room(call):
        call.initial_metadata()  # the join header, or the call's end
        joined.release()

    for call in calls:
        threading.Thread(target=wait_for_the_room, args=(call,), name="checker-joins", daemon=True).start()
    # Wait until the server has taken as many streams as its pool holds, or until no more join.
    taken, deadline = 0, time.monotonic() + JOIN_PATIENCE
    while taken < streams and time.monotonic() < deadline:
        if joined.acquire(timeout=0.5 if taken else JOIN_PATIENCE):
            taken += 1
        elif taken:
            break
    for call in calls:
        call.cancel()
    time.sleep(0.3)  # the cancellations reach the server; nothing is posted meanwhile
    try:
        room.post("is anyone still holding a thread?")
    except Stalled:
        raise Stalled(f"after {streams} subscribers cancelled, with no note posted since, a Post got no answer "
                      f"within {CALL_TIMEOUT:g} s", LEAVE_HINT) from None
    room.until_listening([room.listen("newcomer")])


RULES = {  # Exercise 8.1: each rule is one case; (case, whether it needs a fresh server)
    "the join header comes at once, before any note, with nobody posting": (_join_header, False),
    "a post reaches every subscriber": (_fan_out, False),
    "notes arrive in the order posted, numbered as Post answered": (_order, False),
    "a newcomer asking replay=2 first gets the last 2 notes, oldest first": (_replay, False),
    "invalid notes (empty, too long, nameless) → INVALID_ARGUMENT": (_rejects_invalid, False),
    f"{ROOM_SIZE} waiting subscribers cost no CPU (no polling)": (_idle_cpu, True),
    f"a room of {ROOM_SIZE}, and Posts still answered (the thread pool does not cap it)": (_room_of(ROOM_SIZE), True),
    "a cancelled subscriber leaves at once, with no post to wake it": (_leave_when_cancelled, True),
}


def _in_room(server: Target, case, fresh: bool):
    def in_room(target: Target):
        with Room(target, ROOM_SIZE) as room:
            try:
                return case(room)
            except Stalled as stall:  # a busy loop stalls everything: if the server spins, that is the cause
                raise Fail(stall.got, room.spinning() or stall.hint) from None

    def run():
        if not fresh:
            return in_room(server)
        with server.fresh() as copy:
            return in_room(copy)
    return run


def check_chat_server(server) -> CheckResult:
    """Exercise 8.1: `server` is the RunningServer of my_chat_server.py (or its address)."""
    server = target(server)
    cases = [(label, _in_room(server, case, fresh)) for label, (case, fresh) in RULES.items()]
    return run_checks("Chat server (Subscribe + Post)", cases, target=server)
