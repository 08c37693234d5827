"""The chat checker's side of a room: Subscribe streams read on threads, Posts, probes, and what
the server costs while the room is quiet.

Each stream is read on its own thread into a queue, so a note that never comes is a bounded
wait, never a hang. `Room.until_listening` posts probes until every listener has heard one:
only then are they surely in the room, whether or not the server sends its join header.
Whatever does not come in time raises `Stalled`, which the checker explains. Each listener keeps
what it got, and the room what it posted, so that a note one subscriber missed and another got
tells a fan-out to some inboxes, or one inbox shared by every call, from the rest.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
from pathlib import Path
from typing import NamedTuple

import grpc
import psutil

from workshop.checkers.support import Fail, Target
from workshop.protos import chat_pb2, chat_pb2_grpc
from workshop.servers.chat import MAX_BACKLOG

CALL_TIMEOUT = 2.0  # a Post, the wait for one note, the wait for the join header
FILL_PATIENCE = 3.0  # seconds a room of many listeners may take to fill
STREAM_LIFETIME = 30.0  # the deadline of a checker's Subscribe (it cancels them long before)
SPIN_SECONDS, SPIN_CPU = 0.5, 0.5  # after a stall: half a core or more (run, or waiting to) is a busy loop,
SPIN_CPU_AT_LEAST = 0.15  # if it ran for this much of a core too: what a busy loop gets even on a loaded machine
CUT_OFF_HINT = ("a reader that falls behind may be cut off, but only far behind (the kit's server: "
                f"{MAX_BACKLOG:,} notes), so that a reader that is merely slow for a moment loses nothing. Or leave "
                "it out: queue.SimpleQueue() holds whatever a reader has not read yet")
FAN_OUT_HINT = "Post must put each note into every subscriber's inbox (one queue per subscriber), not only one"
NOTE_HINT = ("does Post put the note into every subscriber's inbox, does Subscribe yield what arrives in its inbox, "
             "and does leave take out (and wake) only its own inbox?")
# Where a subscriber in the room missed a note another one got: a fan-out to some inboxes only, or one inbox that
# every call shares (self.inbox), whose notes go to whichever subscriber takes them first. Where two subscribers each
# got a note the other missed, only a shared inbox does that.
OWN_INBOX = ("each Subscribe makes its own inbox in a local variable (inbox = queue.SimpleQueue()): one on self is "
             "shared by every call, so subscribers steal each other's notes")
MISSED_HINT = f"{FAN_OUT_HINT}; and {OWN_INBOX}"
SHARED_INBOX_HINT = (f"subscribers each got notes another one missed, as if they took turns at one inbox: {OWN_INBOX}; "
                     "and Post puts each note into every subscriber's inbox, not only one")
SETTLED = 0.5  # seconds after its Post was answered by which a note has surely reached every subscriber in the room


def count(number: int, thing: str) -> str:
    """'1 subscriber', '50 subscribers'."""
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"


class Stalled(Fail):
    """Nothing came in time: a note, the join header, a Post's answer."""


_ENDED = object()  # put in a listener's queue when its stream ends without an error


class Listener:
    """One Subscribe stream, read on its own thread: the join header, then notes into a queue."""

    def __init__(self, stub, name: str, replay: int = 0):
        self.name = name
        self.call = stub.Subscribe(chat_pb2.SubscribeRequest(name=name, replay=replay), timeout=STREAM_LIFETIME)
        self.inbox: queue.Queue = queue.Queue()
        self.joined, self.heard = threading.Event(), threading.Event()
        self.joined_at: float | None = None  # when its join header (or its first note) came
        self.ended_at: float | None = None  # when its stream ended
        self.messages: list[str] = []  # of every note it got, kept to tell which notes it missed
        threading.Thread(target=self._read, name=f"checker-{name}", daemon=True).start()

    def _read(self):
        try:
            self.call.initial_metadata()  # returns when the header comes, with the first note, or at the end
            self.joined_at = time.monotonic()
            self.joined.set()
            for note in self.call:
                self.messages.append(note.message)
                self.inbox.put(note)
                self.heard.set()
            self.inbox.put(_ENDED)
        except Exception as error:  # an RpcError, or anything: handed to the case to report
            self.inbox.put(error)
        self.ended_at = time.monotonic()
        self.joined.set()
        self.heard.set()

    def next_note(self, timeout: float = CALL_TIMEOUT, waiting_for: str = "a note"):
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise Stalled(f"subscriber {self.name} got no note within {timeout:g} s while waiting for {waiting_for}",
                          NOTE_HINT) from None
        if item is _ENDED:
            raise Fail(f"subscriber {self.name}'s stream ended: Subscribe returned",
                       "Subscribe must keep waiting for notes until the call ends")
        if isinstance(item, Exception):
            raise item  # an RpcError reads as the framework says (not done yet, not running, raised...)
        return item

    def received(self) -> list:
        """The notes that have arrived so far (for a cancelled listener: all it will ever get)."""
        notes = []
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return notes
            if isinstance(item, chat_pb2.Note):
                notes.append(item)


_ROOMS = itertools.count(1)


# A Post of the answer takes about a millisecond, a few on a loaded laptop: one that takes SLOW_POST s does slow work,
# which under the lock every Post and every newcomer waits for (judged over the last SLOW_POSTS_SEEN Posts)
SLOW_POST, SLOW_POSTS_SEEN = 0.05, 20
PROBE_WAIT = 0.5  # s: a Post on a connection of its own, to tell a cap on one connection's streams; a Post takes ms
STREAMS_CAP_HINT = ("a Post over a connection of its own was answered at once, where the checker's connection, which "
                    "holds its subscribers' streams, had none left: your server caps the streams of one connection "
                    "(grpc.max_concurrent_streams in your module's OPTIONS), and every open Subscribe is a stream. "
                    "Clients may share a connection (the checker's subscribers do): leave that option out")
SLOW_POST_HINT = ("each Post is slow: a time.sleep (a rate limit?) or other slow work in Post, under the lock, makes "
                  "every other Post, and every subscriber that joins or leaves, wait for it. Hand the note out and "
                  "answer at once")


class Room:
    """A channel to the server, and the listeners opened on it (all cancelled on leaving the `with`)."""

    def __init__(self, server: Target, room_size: int):
        self.server, self.room_size = server, room_size
        self.channel = grpc.insecure_channel(server.address)
        self.stub = chat_pb2_grpc.ChatServerStub(self.channel)
        self.listeners: list[Listener] = []
        self.posted: list[tuple[str, float, float]] = []  # each note posted: its message, when sent, when answered
        self.probes = 0
        self.number = next(_ROOMS)  # in its probes: a replay of another room's probe is not this room's
        self._capped: bool | None = None  # whether the server caps one connection's streams, once asked

    def __enter__(self) -> Room:
        return self

    def __exit__(self, *exc) -> None:
        for listener in self.listeners:
            listener.call.cancel()
        self.channel.close()

    def listen(self, name: str, replay: int = 0) -> Listener:
        self.listeners.append(Listener(self.stub, name, replay))
        return self.listeners[-1]

    def fill(self, size: int, name: str = "attendee") -> list[Listener]:
        """`size` new listeners ("attendee 1", ...), each surely in the room (see until_listening)."""
        listeners = [self.listen(f"{name} {n}") for n in range(1, size + 1)]
        self.until_listening(listeners)
        return listeners

    def post(self, message: str, name: str = "checker") -> int:
        sent = time.monotonic()
        try:
            sequence = self.stub.Post(chat_pb2.Note(name=name, message=message), timeout=CALL_TIMEOUT).sequence
            self.posted.append((message, sent, time.monotonic()))
            return sequence
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            raise Stalled(f"with {count(len(self.listeners), 'subscriber')} connected, a Post got no answer within "
                          f"{CALL_TIMEOUT:g} s", self.stalled_post_hint()) from None

    def slow_post_hint(self) -> str | None:
        """SLOW_POST_HINT if the last Posts answered took SLOW_POST s or more each (their median), else None."""
        took = sorted(answered - sent for _, sent, answered in self.posted[-SLOW_POSTS_SEEN:])
        return SLOW_POST_HINT if len(took) >= 5 and took[len(took) // 2] >= SLOW_POST else None

    def stalled_post_hint(self) -> str:
        if slow := self.slow_post_hint():
            return slow
        if self._capped_per_connection():
            return STREAMS_CAP_HINT
        workers = self.server.workers
        if workers is None:  # grpc.aio: one thread for everything
            return "a coroutine must never block: time.sleep() or queue.get() in an async def freezes the server"
        if workers <= len(self.listeners):
            return (f"your server has {workers} worker threads (MAX_WORKERS = {workers}) and every open Subscribe "
                    f"holds one, so none is left for Post: make MAX_WORKERS clearly more than {self.room_size}")
        return (f"your server has {workers} worker threads, more than these streams need: does Subscribe hold "
                "the lock while it waits, for a note, or for room in a full inbox (queue.Queue(maxsize=…), whose "
                "put() waits)? Post needs that lock")

    def _capped_per_connection(self) -> bool:
        """Whether a Post over a connection of its own is answered within PROBE_WAIT s, where one over the room's
        stalled: the server caps the streams of one connection (grpc.max_concurrent_streams), not the calls it runs.
        Asked once a room: the answer stays the same, and each ask posts a note."""
        if self._capped is None:
            with grpc.insecure_channel(self.server.address, options=[("grpc.use_local_subchannel_pool", 1)]) as own:
                try:
                    chat_pb2_grpc.ChatServerStub(own).Post(
                        chat_pb2.Note(name="checker", message="is it only the room's connection?"), timeout=PROBE_WAIT)
                    self._capped = True
                except grpc.RpcError:
                    self._capped = False
        return self._capped

    def until_listening(self, listeners: list[Listener]) -> None:
        """Post probes until every listener has heard one, then drain them: all are in the room.
        Stalled after FILL_PATIENCE, or sooner when for CALL_TIMEOUT no more listeners have heard one."""
        started = time.monotonic()
        progress, heard = started, 0
        while True:
            self.probes += 1
            last = f"probe {self.probes} of room {self.number}: is everyone listening?"
            self.post(last)
            waiting = [listener for listener in listeners if not listener.heard.is_set()]
            if not waiting:
                break
            now = time.monotonic()
            if len(listeners) - len(waiting) > heard:  # still filling
                progress, heard = now, len(listeners) - len(waiting)
            if now > min(progress + CALL_TIMEOUT, started + FILL_PATIENCE):
                raise Stalled(f"{len(listeners) - len(waiting)} of {count(len(listeners), 'subscriber')} received "
                              "the notes posted", FAN_OUT_HINT)
            waiting[0].heard.wait(0.1)
        end = started + FILL_PATIENCE + CALL_TIMEOUT
        for listener in listeners:  # drain everything up to the last probe
            while True:
                try:
                    note = listener.next_note(max(0.1, end - time.monotonic()), waiting_for="the checker's probes")
                except Stalled:
                    raise Stalled(f"subscriber {listener.name} missed a note that was posted to everyone",
                                  FAN_OUT_HINT) from None
                if note.message == last:
                    break

    def missed_notes_hint(self, hint: str) -> str:
        """`hint`, the fan-out's, made to name the cause the notes this room's subscribers got show: a subscriber
        that was in the room (its join header had come, its stream had not ended) missed a note another one got."""
        if hint not in (FAN_OUT_HINT, NOTE_HINT) and not hint.startswith(FAN_OUT_HINT):
            return hint
        heard = {listener: set(listener.messages) for listener in self.listeners}
        settled = time.monotonic() - SETTLED
        missed: dict[Listener, set[Listener]] = {}  # a subscriber: the others that got a note it missed
        for message, sent, answered in self.posted:
            if answered > settled:
                continue
            got_it = {listener for listener in self.listeners if message in heard[listener]}
            for listener in self.listeners if got_it else ():
                joined, ended = listener.joined_at, listener.ended_at
                in_the_room = joined is not None and joined < sent and (ended is None or ended > answered + SETTLED)
                if in_the_room and listener not in got_it:
                    missed.setdefault(listener, set()).update(got_it)
        if any(listener in missed.get(other, ()) for listener, others in missed.items() for other in others):
            return SHARED_INBOX_HINT
        return MISSED_HINT if missed else hint

    def spinning(self) -> str | None:
        """Why the server keeps a CPU core busy while nothing comes, as a hint; None if it idles.
        Where the system tells, time spent waiting for a busy CPU counts too: on a loaded machine a
        busy loop gets less CPU than it asks for, but it never sleeps."""
        try:
            pid = self.server.pid
            busy = _running_or_ready if _running_or_ready(pid) is not None else _cpu_seconds
            before, cpu_before = busy(pid), _cpu_seconds(pid)
            time.sleep(SPIN_SECONDS)
            wanted, used = (busy(pid) - before) / SPIN_SECONDS, (_cpu_seconds(pid) - cpu_before) / SPIN_SECONDS
        except (psutil.Error, ValueError, TypeError):  # gone, or no PID known
            return None
        if wanted < SPIN_CPU or used < SPIN_CPU_AT_LEAST:  # a thread woken for work may wait long for a loaded CPU
            return None
        return ("while nothing came, your server kept a CPU core busy: a loop that looks for new notes without "
                "sleeping (a busy loop) starves every call. Block in inbox.get(), which sleeps until a note arrives")


class Cost(NamedTuple):
    """What a server process spent over a while: CPU seconds, how many of its threads woke up, and how often
    each thread woke (most first)."""

    cpu: float
    woke: int | None  # None where the system does not tell (only Linux counts each thread's sleeps)
    wakes: tuple[int, ...] | None = None


def _cpu_seconds(pid: int) -> float:
    return sum(psutil.Process(pid).cpu_times()[:2])


def _running_or_ready(pid: int) -> float | None:
    """Seconds the threads of `pid` have spent running or ready to run, waiting for a CPU (Linux:
    /proc/PID/task/*/schedstat, whose first two numbers are those, in ns); None where it is not told."""
    total, found = 0, False
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            running, waiting, _ = stat.read_text().split()
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
        total, found = total + int(running) + int(waiting), True
    return total / 1e9 if found else None


def _sleeps_per_thread(pid: int) -> dict[str, int] | None:
    """How often each thread of `pid` has gone to sleep (Linux: voluntary context switches, proc(5))."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return None
    sleeps = {}
    for status in tasks.glob("*/status"):
        try:
            line = next(line for line in status.read_text().splitlines() if line.startswith("voluntary_ctxt"))
            sleeps[status.parent.name] = int(line.split()[1])
        except (OSError, StopIteration, ValueError):  # the thread ended meanwhile
            continue
    return sleeps


def cost_over(pid: int, seconds: float) -> Cost:
    """What process `pid` spends in `seconds`. A thread that sleeps until it is woken for work adds
    nothing; a thread that wakes up to look (a poll with a timeout) counts, however short its look."""
    process = psutil.Process(pid)
    cpu, sleeps = sum(process.cpu_times()[:2]), _sleeps_per_thread(pid)
    time.sleep(seconds)
    cpu, later = sum(process.cpu_times()[:2]) - cpu, _sleeps_per_thread(pid)
    if sleeps is None or later is None:
        return Cost(cpu, None)
    wakes = tuple(sorted((times - sleeps.get(thread, times) for thread, times in later.items()), reverse=True))
    return Cost(cpu, sum(1 for woke in wakes if woke > 0), wakes)
