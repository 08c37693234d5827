"""One case of Exercise 8.1's checker: several clients post at once while subscribers come and go.

Every note must reach every subscriber once, in the order the room numbered it (the sequence each Post
answered, which must be the number the note carries), and a subscriber who joins meanwhile must see its replay
and then the live notes with nothing skipped, doubled or out of order. A Post that lets go of the lock before
its note is in every inbox lets the next Post overtake it, and this case sees that: it runs on a copy whose
threads take turns every microsecond, so even a gap of a few instructions shows in most rounds (see
SWITCH_INTERVAL); see chat.py for what it cannot see.
"""
from __future__ import annotations

import collections
import itertools
import random
import threading
import time
import uuid

import grpc

from workshop.checkers.chat_clients import CUT_OFF_HINT, Listener, Room, Stalled
from workshop.checkers.support import Fail, describe_rpc_error

POSTERS, POSTS_EACH = 8, 25
# Measured on this kit's machine, one round on a copy switching threads every microsecond (with 4 posters): a fan-out
# outside the lock showed in 6-9 rounds of 10, no lock in Post in 7 of 10, a fan-out on a thread of its own in 1-5 of
# 10; at Python's default of 5 ms, in none of 10. The right answer: in none. A receipt read after the lock is let go
# (self.posted += 1 outside it, or self.history.last(1)) is a narrower gap: the whole case (4 rounds) showed them in 3
# of 5 and 2 of 6 runs with 4 posters of 25 notes each; with 8 posters of 25, in 9 and 6 of 10, then 13 and 12 of 15
# (under a load of 3 to 5), for about 0.3 s more of the answer's time (1.0-1.5 s in all).
SWITCH_INTERVAL, CROWD_ROUNDS = 1e-6, 4
STAYING = 3  # subscribers that listen to every post (a pool of 10 still has threads for some Posts at a time)
NEWCOMERS, COMERS_EACH, REPLAY = 2, 10, 3  # threads that each subscribe this often, listen a moment, and cancel
LOCK_HINT = ("hold self.lock while you number a note and put it into every inbox, and while a subscriber "
             "joins (its replay too) or leaves: a Post that lets go of the lock before its note is in every "
             "inbox lets the next Post overtake it")
RECEIPT_HINT = ("answer the number of the note you handed out, note.sequence of the note history.add(request) "
                "returned: a count of your own (self.posted += 1) or self.history.last(1) read once the lock is let "
                "go may hold the next Post's number by then, so a client's receipt names another note")
# Python raises this in a loop over a set (or dict) that another thread changes meanwhile: a join or a leave
SET_CHANGED = "changed size during iteration"
SET_CHANGED_HINT = ("a subscriber joined or left while Post went through self.inboxes, and the set changed under "
                    "its loop: take self.lock in leave() and when joining too, and hold it in Post while it hands out")

# Posts were answered while the staying subscribers waited (Subscribe does not hold the lock while it waits), and one
# stalls once others came and went: it waits for a subscriber that left, or reads late.
WAITS_FOR_A_SUBSCRIBER_HINT = (
    "Posts were answered while subscribers waited, and one got none once others came and went: Post waited for a "
    "subscriber. Does Subscribe yield inside `with self.lock` (a yield waits for its client, and a call cancelled "
    "meanwhile leaves it there, lock held)? Does put() wait for room in a full inbox (queue.Queue(maxsize=…))? "
    "Take the lock only to join, leave and hand out, into inboxes whose put() never waits (queue.SimpleQueue)")

REPLAY_ORDER_HINT = ("its replay came newest first: history.last(request.replay) gives the notes oldest first, "
                     "so put them into the new inbox in that order, into a queue that hands out first what came in "
                     "first (queue.SimpleQueue; a queue.LifoQueue hands out the newest first)")
KEPT_TWICE_HINT = ("history.add(request) numbers and keeps a note each time it is called: call it once per Post, "
                   "and hand out and answer the note it returns")


def posting_at_once(room: Room) -> None:
    """CROWD_ROUNDS crowds, one after another, until one shows a mistake. The case runs on a copy whose threads take
    turns every microsecond (SWITCH_INTERVAL), so that a gap a few instructions wide shows in most rounds."""
    for crowd in range(CROWD_ROUNDS):
        _one_crowd(room, first=crowd == 0)


def _one_crowd(room: Room, first: bool) -> None:
    staying = [room.listen(f"stays {n}") for n in range(1, STAYING + 1)]
    try:
        _crowd_around(room, staying, first)
    finally:  # the next round's listeners need their threads: a pool of 10 holds one round, not four
        for listener in staying:
            listener.call.cancel()


def _crowd_around(room: Room, staying: list[Listener], first: bool) -> None:
    try:
        room.until_listening(staying)  # earlier cases' listeners may still be leaving: their probes show it too
    except Stalled as stall:
        if first or stall.hint != room.stalled_post_hint():
            raise
        raise _explained(stall, room) from None  # a probe stalls on what the crowd before, which went well, left
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNKNOWN:  # not written yet, not running: the framework says so
            raise
        raise _explained(error, room) from None
    run = uuid.uuid4().hex[:8]  # tells this run's notes from an earlier run's in the history
    receipts: dict[str, int] = {}  # each note's text: the sequence its Post answered
    failures: list[BaseException] = []
    newcomers: list[Listener] = []

    def post(poster: int):
        for number in range(1, POSTS_EACH + 1):
            text = f"{run} poster {poster} note {number}"
            try:
                receipts[text] = room.post(text)
            except Exception as error:  # an RpcError or Stalled: reported below
                failures.append(error)
                return

    def come_and_go(newcomer: int):
        for number in range(1, COMERS_EACH + 1):
            listener = Listener(room.stub, f"comes and goes {newcomer}.{number}", replay=REPLAY)
            newcomers.append(listener)
            time.sleep(random.uniform(0, 0.02))
            listener.call.cancel()

    threads = [threading.Thread(target=post, args=(n,), name="checker-posts", daemon=True)
               for n in range(1, POSTERS + 1)]
    threads += [threading.Thread(target=come_and_go, args=(n,), name="checker-comes", daemon=True)
                for n in range(1, NEWCOMERS + 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for listener in newcomers:
            listener.call.cancel()
    if failures:
        raise _explained(failures[0], room)
    end = f"{run} the end"
    try:
        room.post(end)  # the crowd may still be leaving: a set changed under a fan-out shows here too
    except (grpc.RpcError, Stalled) as error:
        raise _explained(error, room) from None
    order = _Order(receipts)
    for listener in staying:
        got = heard_until(listener, end)
        _numbered_as_answered(listener, got, receipts)
        problem = order.problem([note.message for note in got if note.message in receipts], every=True)
        if problem:
            raise Fail(f"subscriber {listener.name} {problem}", LOCK_HINT)
    for listener in newcomers:  # (the numbers they got, the staying ones got too; a replay may hold a note kept twice)
        notes = [note.message for note in listener.received()]  # its replay first, then what was posted
        heard = [text for text in notes if text in receipts]
        problem = order.problem(heard)
        if problem:
            replayed_in_order = notes[:REPLAY][::-1] + notes[REPLAY:]
            replay_reversed = order.problem([text for text in replayed_in_order if text in receipts]) is None
            kept_twice = len(set(notes[:REPLAY])) < len(notes[:REPLAY])
            raise Fail(f"a subscriber who joined (replay={REPLAY}) while others posted {problem}",
                       KEPT_TWICE_HINT if kept_twice else REPLAY_ORDER_HINT if replay_reversed else LOCK_HINT)


def heard_until(listener: Listener, end: str) -> list:
    """The notes `listener` got before `end`. A crowd posts POSTERS * POSTS_EACH notes, far fewer than a reader must
    be let fall behind (CUT_OFF_AFTER), so a reader cut off here was cut off too soon."""
    got = []
    try:
        while (note := listener.next_note(waiting_for="the notes posted at once")).message != end:
            got.append(note)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise
        raise Fail(f"subscriber {listener.name} was cut off ({describe_rpc_error(error)}) after {len(got)} of the "
                   f"{POSTERS * POSTS_EACH} notes {POSTERS} clients posted at once", CUT_OFF_HINT) from None
    return got


def _numbered_as_answered(listener: Listener, notes: list, receipts: dict[str, int]) -> None:
    """Fails when a note `listener` got carries another number than its Post answered: a receipt read after the
    lock was let go (a count of one's own, the history's newest note), which another Post may have changed by then.
    A note or a receipt without a number is the numbering case's to name."""
    for note in notes:
        answered = receipts.get(note.message, 0)
        if answered and note.sequence and answered != note.sequence:
            raise Fail(f"while {POSTERS} clients posted at once, Post answered {answered} for {_shown(note.message)}, "
                       f"which subscriber {listener.name} got numbered {note.sequence}", RECEIPT_HINT)


def _explained(error: BaseException, room: Room) -> BaseException:
    if isinstance(error, Stalled) and (slow := room.slow_post_hint()):
        return Stalled(error.got, slow)  # each Post slow: the crowd's queue for the lock, not a subscriber
    if isinstance(error, Stalled) and (room.server.workers or 0) > STAYING + NEWCOMERS + POSTERS:
        return Stalled(error.got, WAITS_FOR_A_SUBSCRIBER_HINT)  # threads enough: not the pool
    if not isinstance(error, grpc.RpcError):  # Stalled, say: it explains itself
        return error
    if error.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT):
        return error  # a limit on calls at once, or a rule of the learner's own: the checker's room explains them
    raised = room.server.last_exception() if error.code() == grpc.StatusCode.UNKNOWN else None
    what = f"your server raised {raised}" if raised else describe_rpc_error(error)
    # the server's log may not hold the traceback yet; grpc's own details name the exception too
    return Fail(f"while {POSTERS} clients posted at once, a Post failed: {what}",
                SET_CHANGED_HINT if SET_CHANGED in what else LOCK_HINT)


def changed_under_post(error: grpc.RpcError, room: Room) -> Fail | None:
    """A call that failed because the server's set of inboxes changed under a loop over it, as a Fail; else None."""
    if error.code() != grpc.StatusCode.UNKNOWN:
        return None
    raised = room.server.last_exception() or error.details() or ""  # the log may not hold the traceback yet
    if SET_CHANGED not in raised:
        return None
    return Fail(f"your server raised {raised}", SET_CHANGED_HINT)


class _Order:
    """The order the notes were posted in: by the sequence each Post answered, when those are all
    different; otherwise (Post answers no numbers) only each poster's own order is known."""

    def __init__(self, receipts: dict[str, int]):
        self.receipts = receipts
        self.numbered = len(set(receipts.values())) == len(receipts)

    def precedes(self, text: str, other: str) -> bool:
        if self.numbered:
            return self.receipts[text] < self.receipts[other]
        poster, number = text.rsplit(" note ", 1)
        other_poster, other_number = other.rsplit(" note ", 1)
        return poster == other_poster and int(number) < int(other_number)

    def problem(self, heard: list[str], every: bool = False) -> str | None:
        """What is wrong with the notes one subscriber heard, in the order heard; None if nothing.
        With `every` it listened all along and must hear every note; else it must miss none between
        the first and the last it heard."""
        times = collections.Counter(heard)
        twice = next((text for text, count in times.items() if count > 1), None)
        if twice:
            return f"got {_shown(twice)} {times[twice]} times"
        for earlier, later in itertools.pairwise(heard):
            if self.precedes(later, earlier):
                return (f"got {_shown(later)} after {_shown(earlier)}, which was posted after it"
                        f"{self._numbers(later, earlier)}")
        missed = [text for text in self.receipts if text not in times
                  and (every or (heard and self.precedes(heard[0], text) and self.precedes(text, heard[-1])))]
        if missed:
            return f"got {len(heard)} of the notes and missed {len(missed)}, such as {_shown(missed[0])}"
        return None

    def _numbers(self, text: str, other: str) -> str:
        return f" (Post answered {self.receipts[text]} and {self.receipts[other]})" if self.numbered else ""


def _shown(text: str) -> str:
    """'poster 2 note 5', without the run's mark."""
    return repr(text.split(" ", 1)[1])
