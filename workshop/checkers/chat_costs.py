"""Three cases of Exercise 8.1's checker: what a room costs the server when nobody speaks to it.

A subscriber that waits must sleep (no thread of the server wakes up while nobody posts), must
leave at once when its call ends (its worker thread comes back with no Post to wake it), and,
once gone, must be out of the room (notes posted later are not kept for it). None of this shows
in what a client receives, so these cases measure the server's process: its threads' wake-ups,
its CPU, the time its threads take to come back, and its memory. Where memory grows, a fresh copy
that nobody has joined tells notes the server keeps for their own sake (a longer history, a
transcript) from an inbox kept for a subscriber that left.
"""
from __future__ import annotations

import time

import psutil

from workshop.checkers.chat_clients import Room, Stalled, cost_over, count
from workshop.checkers.support import Fail
from workshop.servers.chat import HISTORY, MAX_MESSAGE

MOST_STREAMS = 300  # the leaving case fills the thread pool, but never opens more streams than this
IDLE_SECONDS = 6.0
# Threads of the server that may wake up in IDLE_SECONDS while a room of subscribers waits and nobody
# posts. A thread that waits in inbox.get() sleeps until a note comes; one that polls wakes up at every
# timeout, however short its look. Measured on the kit's 2-core machine (Linux: each thread's voluntary
# context switches in /proc) with 50 subscribers, 3-4 runs each, idle (load 0.5-1.5) / busy (3 spinning
# processes, load 3.4-5.5), in a 2 s window:
#   the answer, waiting in inbox.get()             7-8 of 62 threads woke / 7-8 of 62   CPU 0.00-0.01 s
#   the reference, grpc.aio                        6-7 of 12 threads woke / 6-7 of 12
#   inbox.get(timeout=0.05, 0.1, 0.2, 0.5, 1.5)    57-58 woke             / 57-58       CPU 0.00-0.07 s
#   time.sleep(0.01) polling                       57-58 woke                           CPU 0.15-0.22 s
# and in this 6 s window (2 runs each, load 1.0-2.4):
#   the answer / the reference                     7 of 62 / 6 of 12 woke             CPU 0.00-0.01 s
#   inbox.get(timeout=5), add_callback kept        57 of 62 woke                      CPU 0.01-0.03 s
#   inbox.get(timeout=1.0) in is_active()          58 of 62 woke                      CPU 0.02-0.03 s
# One thread that polls for everyone (a reaper that looks every 0.2 s which calls have ended) is beyond
# this case: it wakes 30 times in 6 s, as grpc's own timer threads do (measured: 30/30/24 for the top three
# threads of the answer and of such a reaper). Notebook 08 asks for add_callback; no cost shows the difference.
# CPU cannot see a slow poll (a 0.2 s poll used 0.00-0.03 s of CPU a second), wake-ups can. Every
# subscriber's poll restarts when it hears the checker's last probe, so their wake-ups come together
# and a window of IDLE_SECONDS sees every poll up to that far apart; the leaving case sees every poll
# slower than LEAVE_SLACK that leaves only when it next looks.
IDLE_CPU_LIMIT = 0.15  # seconds of CPU in IDLE_SECONDS: the only measure where the system does not count sleeps
# Seconds that N cancelled subscribers may take to give their threads back, beyond the time N new
# ones took to join. Measured as the leaving case does (99 streams cancelled, 99 new ones), 3-4 runs
# each, idle / with 3 busy processes (load 3.5-4.7):
#   the answer (add_callback wakes the loop)    -0.28 to +0.18 s / -0.46 to +0.37 s
#   the reference, grpc.aio                     -0.17 to +0.00 s / -0.02 to +0.13 s
#   a poll with timeout=1.0 in is_active()      +0.41 to +0.83 s / +0.33 to +0.86 s   (the idle case fails it)
#   a poll with timeout=1.5                     +1.13 to +1.41 s / +0.92 to +1.31 s   (the idle case too)
#   a poll with timeout=3.0                     no thread back within the probe's 2 s
LEAVE_SLACK = 0.7
LEFT = 5  # subscribers that join and cancel before the forgetting case posts to nobody (a pool of 10 holds them)
POSTS_TO_NOBODY = 300  # of MAX_MESSAGE characters each, in each of two rounds
# The server's memory (RSS) in the second round of POSTS_TO_NOBODY posts, after LEFT subscribers
# cancelled and a first round let any slow leaver go (2 runs each, load 1.0-2.4; earlier, with 20 who
# left, the same figures):
#   the answer / the reference                          +0.1 to +0.2 MB / +0.0 MB
#   a poll with timeout=1.0 that leaves at its next look    +0.1 to +0.2 MB
#   leave() that never takes the inbox out           +6.4 to +6.6 MB (each note kept, 20,000 characters)
#   no add_callback, so nobody ever leaves           +6.4 to +6.5 MB
KEPT_SHARE = 0.25  # of each note's characters, in memory growth per post, that fails the case
# Rounds measured after the first: the case fails only if memory grew in each. Under heavy load (a
# full suite on 2 cores, with 4 other processes busy) the reference once grew +6.3 MB in one round.
ROUNDS = 2
# When it fails: seconds after the subscribers cancelled at which one more round tells a slow leaver (a poll, a
# thread per subscriber that looks every 0.5 s whether its call is active) from one that never leaves. Posts are
# fast (the rounds above end about 0.7 s after the cancel), so a poll that leaves at its next look can miss them all.
LATE = 2.0

POLL_HINT = ("each waiting subscriber wakes up again and again to look for notes (polling, or a busy loop): "
             "block in inbox.get() with no timeout, which sleeps until a note arrives, and let "
             "context.add_callback(leave) wake it when the call ends")
LEAVE_HINT = ("a cancelled Subscribe still sleeps in inbox.get() (or polls) and holds its worker thread: leave the "
              "room in context.add_callback(leave), where leave takes the inbox out and puts None into it to wake "
              "the loop at once, which returns on None (and if add_callback returns False, the call has ended: "
              "leave at once)")
# grpc.aio gives a call no thread of its own: what a cancelled subscriber can still hold is a thread of asyncio's
# default executor (asyncio.to_thread, run_in_executor), of which there are only the CPUs + 4
AIO_LEAVE_HINT = ("with ASYNCIO = True a call holds no thread, but a wait through asyncio.to_thread(inbox.get) (or "
                  "run_in_executor) holds one of asyncio's default executor, which has a few (the CPUs + 4): new "
                  "subscribers and Posts wait for those. Give each subscriber an asyncio.Queue and `await "
                  "inbox.get()`, or serve with threads (no ASYNCIO), each waiting in a queue.SimpleQueue")
BIG_NOTE = "x" * MAX_MESSAGE  # the forgetting case's notes: the longest the room takes
KEPT_NOTES_HINT = ("your server keeps the notes themselves, even with nobody in the room: keep only what a newcomer "
                   f"can ask for, the last {HISTORY}, in the kit's History() (its size as it comes). A longer history "
                   "(History(size=1000)) or a list of every note (a transcript) grows with the room's every note, "
                   "for as long as the server runs")
KEPT_HINT = ("a subscriber that left is still in the room, so every later note piles up in its inbox and is never "
             "freed: leave() must take the inbox out of self.inboxes (under the lock), not only put None into it, "
             "and run as the call ends, in context.add_callback(leave), not when a poll next looks")
LATE_HINT = ("the subscribers that cancelled left the room, but late: the notes posted until then piled up for "
             "nobody. Something that looks every so often whether the call is active (a poll, a thread per "
             "subscriber) notices late: leave in context.add_callback(leave), which gRPC runs as the call ends, "
             "not on a poll")


def _gone() -> Fail:
    return Fail("your server's process is gone", "start it again with server_runner.start(...)")


def _measurable(room: Room) -> None:
    if room.server.pid is None:
        raise Fail("the checker cannot find your server's process to measure it",
                   "pass the server that server_runner.start(...) returned")


def idle(room: Room, size: int):
    _measurable(room)
    try:
        room.fill(size)
    except Stalled as stall:  # the room case says why and gives the hint
        raise Stalled(f"the room of {size} did not fill, so what it costs could not be measured "
                      f"({stall.got})", stall.hint) from None
    time.sleep(0.2)  # the last probe's sends are done
    try:
        used = cost_over(room.server.pid, IDLE_SECONDS)
    except psutil.Error:  # the process is gone
        raise _gone() from None
    waiting = f"with {size} subscribers waiting and nobody posting"
    if used.woke is not None and used.woke > size // 2:
        raise Fail(f"{waiting}, {used.woke} threads of your server woke up in {IDLE_SECONDS:g} s "
                   f"(the limit is {size // 2})", POLL_HINT)
    if used.cpu > IDLE_CPU_LIMIT:
        raise Fail(f"{waiting}, your server used {used.cpu:.2f} s of CPU in {IDLE_SECONDS:g} s "
                   f"(the limit is {IDLE_CPU_LIMIT:g} s)", POLL_HINT)


def leaves_when_cancelled(room: Room):
    # All the pool's threads but one hold a stream (the last one answers the probes). Once those
    # cancel, as many new streams and a probe need every thread back. (A pool larger than
    # MOST_STREAMS is never filled, so there this case cannot see a subscriber that stays.)
    seats = min(room.server.workers or room.room_size, MOST_STREAMS) - 1
    started = time.monotonic()
    leaving = room.fill(seats, "leaves")
    joining = time.monotonic() - started
    for listener in leaving:
        listener.call.cancel()
    cancelled = time.monotonic()
    try:
        room.fill(seats)
    except Stalled:
        raise Stalled(f"after {count(seats, 'subscriber')} cancelled (and no note was posted), "
                      f"{count(seats, 'new one')} and a Post got no thread: the cancelled ones still hold theirs",
                      LEAVE_HINT if room.server.workers else AIO_LEAVE_HINT) from None
    late = time.monotonic() - cancelled - joining
    if late > LEAVE_SLACK:
        raise Fail(f"{count(seats, 'subscriber')} that cancelled took {late:.1f} s longer to free their threads "
                   f"than {count(seats, 'new one')} took to join (the limit is {LEAVE_SLACK:g} s)",
                   LEAVE_HINT if room.server.workers else AIO_LEAVE_HINT)


def _grown(process: psutil.Process, room: Room, posts: int) -> int:
    """How many bytes the server's memory grew while `posts` notes of MAX_MESSAGE characters were posted."""
    before = process.memory_info().rss
    for _ in range(posts):
        room.post(BIG_NOTE)
    return process.memory_info().rss - before


def _least_growth(room: Room) -> int:
    """The least the server's memory grew in ROUNDS rounds of POSTS_TO_NOBODY big notes, once the history is full
    (from then on, each note it takes in, it lets go of one) and one more round has let any slow leaver go."""
    process = psutil.Process(room.server.pid)
    _grown(process, room, HISTORY + POSTS_TO_NOBODY)
    return min(_grown(process, room, POSTS_TO_NOBODY) for _ in range(ROUNDS))  # a leak grows in every round


def _keeps_notes_for_nobody(room: Room) -> bool:
    """Whether a fresh copy of the server, which nobody has joined, grows as the forgetting case saw: it keeps the
    notes themselves (a longer history, a transcript), not an inbox of a subscriber that left."""
    with room.server.fresh() as copy:
        if copy is room.server:  # a server the kit does not run: no copy to compare with
            return False
        with Room(copy, room.room_size) as empty:
            return _least_growth(empty) > KEPT_SHARE * MAX_MESSAGE * POSTS_TO_NOBODY


def forgets_who_left(room: Room):
    _measurable(room)
    for listener in room.fill(LEFT, "leaves"):
        listener.call.cancel()
    cancelled = time.monotonic()
    try:
        grew = _least_growth(room)
        if grew <= KEPT_SHARE * MAX_MESSAGE * POSTS_TO_NOBODY:
            return
        kept = (f"after {LEFT} subscribers cancelled, each round of {POSTS_TO_NOBODY} notes of {MAX_MESSAGE:,} "
                f"characters, posted to nobody, made your server's memory grow by {grew / 1e6:.1f} MB or more")
        if _keeps_notes_for_nobody(room):
            raise Fail(f"{kept}, and so in a copy of it that nobody had joined: it keeps the notes themselves",
                       KEPT_NOTES_HINT)
        time.sleep(max(0.0, cancelled + LATE - time.monotonic()))
        late = _grown(psutil.Process(room.server.pid), room, POSTS_TO_NOBODY) <= (
            KEPT_SHARE * MAX_MESSAGE * POSTS_TO_NOBODY)
    except psutil.Error:  # the process is gone
        raise _gone() from None
    if late:
        raise Fail(f"{kept}; a round posted {LATE:g} s after they cancelled did not: they left late", LATE_HINT)
    raise Fail(f"{kept}: the notes are kept", KEPT_HINT)
