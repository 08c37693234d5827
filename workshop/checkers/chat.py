"""Checker for Exercise 8.1: the learner's chat servicer (Subscribe + Post), judged by what it does.

The cases open real Subscribe streams and post real notes (see chat_clients). Before a case
posts what it checks, it posts probes until every subscriber has heard one, so no case but the
join header's depends on that header. When something does not come in time and the server
keeps a core busy meanwhile, the hint names the busy loop, not the symptom.

The cases that fill the room (50 subscribers, or as many streams as the thread pool holds) and
those that measure what a quiet room costs (chat_costs) each run on a fresh server from the
learner's module, so that no earlier case, and no stream an earlier case left behind, changes
their verdict.

What no case can see, measured here: a join header sent before joining (0 of 200 notes posted the
instant the header came were lost). A missing lock whose gap is a few instructions wide (a fan-out
outside the lock, no lock in Post) hid from every run under CPython's default thread switching
(0 notes out of order, lost or doubled in 3 runs each of 400 Posts from 8 threads to 50
subscribers); the concurrent case therefore runs on a copy that switches threads every
microsecond, where such a gap shows in most of its rounds (chat_crowd). A replay put in after
joining, or a lock missing only around joining and leaving, can still pass; notebook 08 says so.
"""
from __future__ import annotations

import grpc

from workshop.checkers.chat_clients import CALL_TIMEOUT, FAN_OUT_HINT, Room, Stalled, count
from workshop.checkers.chat_costs import IDLE_SECONDS, forgets_who_left, idle, leaves_when_cancelled
from workshop.checkers.chat_crowd import SWITCH_INTERVAL, posting_at_once
from workshop.checkers.support import CASE_DEADLINE, CheckResult, Fail, Target, expect_status, run_checks, target
from workshop.protos import chat_pb2
from workshop.runner.serving import SWITCH_SETTING
from workshop.servers.chat import MAX_MESSAGE, MAX_NAME

ROOM_SIZE = 50  # subscribers at once: a workshop room

HEADER_HINT = ("call context.send_initial_metadata(()) in Subscribe right after joining the room, before "
               "waiting for the first note: until it comes, a pane says 'joining…'")
WORDS_HINT = ("abort with the words problem_with_note(request) returns: context.abort(grpc.StatusCode."
              "INVALID_ARGUMENT, problem), so the client can tell its user what to fix")


def _texts(notes) -> str:
    return ", ".join(repr(note.message) for note in notes)


def _join_header(room: Room):
    ann = room.listen("ann")
    if not ann.joined.wait(CALL_TIMEOUT):
        raise Stalled(f"no join header within {CALL_TIMEOUT:g} s of subscribing, with nobody posting", HEADER_HINT)
    if ann.call.done():
        ann.next_note(waiting_for="the end of the call")  # raises what ended it


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
    listener = room.listen("no replay", replay=0)
    if not listener.joined.wait(CALL_TIMEOUT) or listener.call.done():
        return  # no join header: nothing tells when it joined (the header's case says so)
    room.post("after you joined")
    first = listener.next_note(waiting_for="'after you joined'")
    if first.message != "after you joined":
        raise Fail(f"a subscriber asking for replay=0 got {first.message!r} first, from before it joined; "
                   "expected 'after you joined'", "replay=0 asks for no old notes: history.last(request.replay) "
                   "gives none for 0, so replay exactly what the request asks for")


INVALID_NOTES = {  # what is wrong: (the note, words of which the refusal must hold one)
    "an empty message": (chat_pb2.Note(name="checker", message=""), ("empty",)),
    "a message of spaces": (chat_pb2.Note(name="checker", message="   "), ("empty",)),
    f"a {MAX_MESSAGE + 1:,}-character message": (chat_pb2.Note(name="checker", message="x" * (MAX_MESSAGE + 1)),
                                                 (f"{MAX_MESSAGE:,}", str(MAX_MESSAGE))),
    "a note without a name": (chat_pb2.Note(name="", message="hello"), ("name",)),
    f"a {MAX_NAME + 1}-character name": (chat_pb2.Note(name="n" * (MAX_NAME + 1), message="hello"), (str(MAX_NAME),)),
}
LONGEST_REFUSAL = 200  # characters: a sentence that says what is wrong, never the note itself


def _refusals(room: Room):
    """(what is wrong, the words its refusal needs, the details it got, or a Fail if it was not refused)."""
    for what, (note, words) in INVALID_NOTES.items():
        try:
            details = expect_status(lambda note=note: room.stub.Post(note, timeout=CALL_TIMEOUT),
                                    grpc.StatusCode.INVALID_ARGUMENT,
                                    "when problem_with_note(request) finds a problem, end the call with "
                                    "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)")
        except Fail as failure:
            yield what, words, Fail(f"{what}: {failure.got}", failure.hint)
        else:
            yield what, words, details


def _rejects_invalid(room: Room):
    before = room.post("before the invalid notes")
    for _, _, details in _refusals(room):
        if isinstance(details, Fail):
            raise details
    after = room.post("after the invalid notes")
    if before == after == 0:
        return  # Post answers no sequence at all: the order case says so, and no number can be compared here
    if after != before + 1:
        raise Fail(f"the valid notes around {len(INVALID_NOTES)} refused ones got numbers {before} and {after}: "
                   "the refused notes took numbers",
                   "refuse first, number after: call problem_with_note(request) before history.add, so a refused "
                   "note is never numbered, kept or replayed")


def _says_what_is_wrong(room: Room):
    for what, words, details in _refusals(room):
        if isinstance(details, Fail):
            continue  # not refused at all: the case above says so
        if len(details) > LONGEST_REFUSAL:
            raise Fail(f"{what} was refused with {len(details):,} characters of details", WORDS_HINT)
        if not any(word in details for word in words):
            expected = " or ".join(repr(word) for word in words)
            raise Fail(f"{what} was refused with {details!r}, which does not mention {expected}", WORDS_HINT)


def _room_of(size: int):
    def case(room: Room):
        listeners = room.fill(size)
        room.post("welcome, everyone")
        for listener in listeners:
            listener.next_note(waiting_for="'welcome, everyone'")
    return case


RULES = {  # Exercise 8.1: each rule is one case; (case, whether it needs a fresh server, or the env of its copy)
    "the join header comes at once, with nobody posting": (_join_header, False),
    "a post reaches every subscriber": (_fan_out, False),
    "notes arrive in the order posted, numbered as Post answered": (_order, False),
    "a newcomer asking replay=2 first gets the last 2 notes, oldest first; replay=0 gets none": (_replay, False),
    "invalid notes (empty, too long, nameless) → INVALID_ARGUMENT, and no number": (_rejects_invalid, False),
    "the refusal says what is wrong, in problem_with_note's words": (_says_what_is_wrong, False),
    "4 clients posting at once: every subscriber gets each note once, in order": (
        posting_at_once, {SWITCH_SETTING: str(SWITCH_INTERVAL)}),
    f"a room of {ROOM_SIZE}, and Posts still answered (the thread pool does not cap it)": (_room_of(ROOM_SIZE), True),
    f"{ROOM_SIZE} waiting subscribers sleep: no thread wakes up in {IDLE_SECONDS:g} s, no CPU (no polling)":
        (lambda room: idle(room, ROOM_SIZE), True),
    "a cancelled subscriber leaves at once: no post to wake it, no poll to wait for": (leaves_when_cancelled, True),
    "a subscriber that left is out of the room: later notes are not kept for it": (forgets_who_left, True),
}


def _in_room(server: Target, case, fresh: bool | dict):
    def in_room(target: Target):
        with Room(target, ROOM_SIZE) as room:
            try:
                return case(room)
            except Stalled as stall:  # a busy loop stalls everything: if the server spins, that is the cause
                raise Fail(stall.got, room.spinning() or stall.hint) from None
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
                raise Fail(f"with {count(len(room.listeners), 'subscriber')} connected, a call got no answer in time",
                           room.spinning() or room.stalled_post_hint()) from None

    def run():
        if not fresh:
            return in_room(server)
        with server.fresh(env=fresh if isinstance(fresh, dict) else None) as copy:
            return in_room(copy)
    return run


def check_chat_server(server) -> CheckResult:
    """Exercise 8.1: `server` is the RunningServer of my_chat_server.py (or its address)."""
    server = target(server)
    cases = [(label, _in_room(server, case, fresh)) for label, (case, fresh) in RULES.items()]
    # the idle case watches a quiet room for IDLE_SECONDS on top of what a case may take
    return run_checks("Chat server (Subscribe + Post)", cases, deadline=CASE_DEADLINE + IDLE_SECONDS, target=server)
