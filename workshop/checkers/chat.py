"""Checker for Exercise 8.1: the learner's chat servicer (Subscribe + Post), judged by what it does.

The cases open real Subscribe streams and post real notes (see chat_clients). Before a case
posts what it checks, it posts probes until every subscriber has heard one, so no case but the
join header's depends on that header. When something does not come in time and the server
keeps a core busy meanwhile, the hint names the busy loop, not the symptom.

The cases that fill the room (50 subscribers, or as many streams as the thread pool holds) and
those that measure what a quiet room costs (chat_costs) each run on a fresh server from the
learner's module, so that no earlier case, and no stream an earlier case left behind, changes
their verdict. In the full room a newcomer must get its replay at once, with nobody posting: a
wait for a note that needs what the waiting subscribers hold (a thread of asyncio's default
executor) shows there. When a Post stalls, one over a connection of its own tells a cap on one
connection's streams (grpc.max_concurrent_streams) from a pool or a lock that holds it up. The
numbering case posts one note to a fresh copy too: only a server's first note shows a count from 0.

What no case can see, measured here: a join header sent before joining (0 of 200 notes posted the
instant the header came were lost). A missing lock whose gap is a few instructions wide (a fan-out
outside the lock, no lock in Post) hid from every run under CPython's default thread switching
(0 notes out of order, lost or doubled in 3 runs each of 400 Posts from 8 threads to 50
subscribers); the concurrent case therefore runs on a copy that switches threads every
microsecond, where such a gap shows in most of its rounds (chat_crowd); there each Post's receipt
must be the number its note carries, which a receipt read after the lock misses in most runs. A replay put in after
joining, or a lock missing only around joining and leaving, can still pass; notebook 08 says so.
"""
from __future__ import annotations

import html
import queue
import threading
import time

import grpc

from workshop.checkers.chat_clients import (
    CALL_TIMEOUT,
    CUT_OFF_HINT,
    FAN_OUT_HINT,
    SHARED_INBOX_HINT,
    SLOW_POST,
    SLOW_POST_HINT,
    STREAM_LIFETIME,
    Room,
    Stalled,
    count,
)
from workshop.checkers.chat_costs import IDLE_SECONDS, forgets_who_left, idle, leaves_when_cancelled
from workshop.checkers.chat_crowd import (
    KEPT_TWICE_HINT,
    POSTERS,
    REPLAY_ORDER_HINT,
    SWITCH_INTERVAL,
    changed_under_post,
    posting_at_once,
)
from workshop.checkers.support import (
    CASE_DEADLINE,
    RAISED_PREFIXES,
    CheckResult,
    Fail,
    Target,
    describe_rpc_error,
    expect_status,
    run_checks,
    target,
)
from workshop.protos import chat_pb2, chat_pb2_grpc
from workshop.runner.serving import SWITCH_SETTING
from workshop.servers.chat import HISTORY, MAX_BACKLOG, MAX_MESSAGE, MAX_NAME

ROOM_SIZE = 50  # subscribers at once: a workshop room
# The slow reader of the replay case: 4 notes of 19 KB are more than the 64 KB its connection takes in unread (BDP
# probing off, a connection of its own), so the server is still sending them UNREAD_FOR s later, and still when
# MEANWHILE short notes have been posted: more than an inbox of queue.Queue(maxsize=1000) holds, and more than the
# reference server lets a subscriber lag behind (MAX_BACKLOG): it cuts the reader off with RESOURCE_EXHAUSTED, which
# is fine once the reader is CUT_OFF_AFTER notes behind, never sooner, and never by dropping notes.
SLOW_REPLAY, BIG_NOTE, UNREAD_FOR, MEANWHILE = 4, 19_000, 0.4, 1_100
CUT_OFF_AFTER = MAX_BACKLOG * 9 // 10
PACED_AFTER = 20  # Posts, one after another, by which their pace tells a slow Post (SLOW_POST s each)
UNREAD_STAYS = [("grpc.use_local_subchannel_pool", 1), ("grpc.http2.bdp_probe", 0)]

HEADER_HINT = ("call context.send_initial_metadata(()) in Subscribe right after joining the room, before "
               "waiting for the first note: until it comes, a pane says 'joining…'")
WORDS_HINT = ("abort with the words problem_with_note(request) returns: context.abort(grpc.StatusCode."
              "INVALID_ARGUMENT, problem), so the client can tell its user what to fix")
QUOTED_HINT = ("the refusal quoted what was sent: its details travel back in the call's metadata, and a long name or "
               "message makes them grow past the metadata limit (16 KB), so the client gets RESOURCE_EXHAUSTED "
               "instead of your INVALID_ARGUMENT. Quote nothing of the note: problem_with_note's words are enough")
STRICTER_HINT = ("refuse only what problem_with_note(request) finds wrong, in its words: a rule of your own turns "
                 f"away notes the room takes (a name of up to {MAX_NAME} characters, a message of up to "
                 f"{MAX_MESSAGE:,})")
LOCKED_SEND_HINT = ("Post waited for a subscriber's client: does Subscribe yield inside `with self.lock`? A yield "
                    "waits until its client takes the note, however long that takes (and a call cancelled meanwhile "
                    "leaves it there, lock held). Take the lock only to join and leave; yield outside it")
FULL_INBOX_HINT = ("Post waited for room in that newcomer's inbox: an inbox with a maxsize (queue.Queue(maxsize=…)) "
                   "makes put() wait while it is full, lock held, so every Post waits for the slowest reader. Use "
                   "queue.SimpleQueue(), whose put() never waits")
REPLAY_STUCK_HINT = ("Subscribe got stuck putting the replay into the new inbox: an inbox with a maxsize smaller "
                     "than the replay (queue.Queue(maxsize=…)) makes put() wait for a reader, lock held, and nobody "
                     "reads it yet. Use queue.SimpleQueue(), whose put() never waits")
RETURNED_HINT = ("a Subscribe that returns ends its stream: loop on inbox.get() until it gives None, which only "
                 "leave puts in, into the inbox of the call that ended, and only then. If it ended at once, look at "
                 "add_callback: context.add_callback(leave) hands gRPC the function to call later; "
                 "context.add_callback(leave()) calls leave now, so the subscriber leaves the room as it joins")
LATECOMER_REPLAY = 3  # the replay of the newcomer who joins the full room
REPLAY_WAITED_HINT = ("the newcomer's replay waited in its inbox until someone posted: its wait for a note needed "
                      "something the subscribers already waiting hold. asyncio.to_thread(inbox.get) runs each wait on "
                      "a thread of asyncio's default executor, which has a few (the CPUs + 4), so once as many "
                      "subscribers wait, the next one waits for a thread, not for a note. With ASYNCIO = True, give "
                      "each subscriber an asyncio.Queue and `await inbox.get()`; or serve with threads (no ASYNCIO), "
                      "each waiting in a queue.SimpleQueue")
CONCURRENCY_HINT = ("your server turns away calls past a number at once (MAX_CONCURRENT_RPCS in your module: grpc."
                    "server's maximum_concurrent_rpcs), and every open Subscribe is a call that lasts: leave "
                    f"MAX_CONCURRENT_RPCS out, or make it clearly more than a room of {ROOM_SIZE} and its Posts")


def _texts(notes) -> str:
    return ", ".join(repr(note.message) for note in notes)


def _join_header(room: Room):
    ann = room.listen("ann")
    if not ann.joined.wait(CALL_TIMEOUT):
        raise Stalled(f"no join header within {CALL_TIMEOUT:g} s of subscribing, with nobody posting", HEADER_HINT)
    if ann.call.done():
        ann.next_note(waiting_for="the end of the call")  # raises what ended it


# Who listens in the fan-out case: one without a name (the contract allows it), the poster itself (its own pane shows
# its note too: FAN_OUT_POSTER posts it), and a name not in ASCII; then two of one name (a pane or two each)
FAN_OUT_POSTER = "poster"
FAN_OUT_NAMES = ("ann", "ben", "", FAN_OUT_POSTER, "zoë")
# Posted as it is, and handed out as it is: spaces first, HTML that a pane shows as text, a character past ASCII
FAN_OUT_NOTE = "  <b>hello</b>, all of you 👋"
JOIN_FIRST_HINT = ("join first: put the replay into the new inbox and add the inbox to the room, under the lock, "
                   "before the first yield. A replay yielded before joining is still going out when a note is "
                   "posted, and that note reaches an inbox that is not in the room yet")
POSTER_HINT = ("a subscriber gets every note, its own too (its pane shows what it sent): put each note into every "
               "inbox, the poster's too, and yield every note that comes")
METADATA_HINT = ("metadata carries ASCII text only: send the join header empty, context.send_initial_metadata(()), "
                 "with no name (nor note) in it")
AS_POSTED_HINT = ("hand out the note history.add(request) returned, as it is, to every subscriber, the poster too: "
                  "one note object goes to every inbox, so a change made for one (a name replaced, a field cleared) "
                  "is made for all, and for every later replay. Change nothing of what was sent either: no "
                  "escaping, no strip (a pane shows the text as text). A Note made anew (chat_pb2.Note(...)) has "
                  "neither sequence nor sent_at")


def _fan_out(room: Room):
    listeners = [room.listen(name) for name in FAN_OUT_NAMES]
    room.until_listening(listeners)
    room.post(FAN_OUT_NOTE, name=FAN_OUT_POSTER)
    for listener in listeners:
        note = _poster_hears(listener, repr(FAN_OUT_NOTE))
        if (note.name, note.message) != (FAN_OUT_POSTER, FAN_OUT_NOTE):
            changed = note.message in (FAN_OUT_NOTE, html.escape(FAN_OUT_NOTE), FAN_OUT_NOTE.strip())
            raise Fail(f"subscriber {listener.name!r} got {note.name!r}: {note.message!r}; expected "
                       f"{FAN_OUT_POSTER!r}: {FAN_OUT_NOTE!r}", AS_POSTED_HINT if changed else FAN_OUT_HINT)
    # every inbox reached: now two more of one name, whom a room keyed by name holds as one
    twins = [room.listen("twin"), room.listen("twin")]
    try:
        room.until_listening([*listeners, *twins])  # every stream drained to the last probe: none is mid-send
    except Stalled as stall:
        if all(twin.heard.is_set() for twin in twins) and not stall.got.startswith("subscriber twin "):
            raise  # one of the others: not a matter of names
        raise Fail("of two subscribers named 'twin', one got nothing, where subscribers of other names all did",
                   "one inbox per subscriber (a set of queues), not one per name: two panes may share a name, and "
                   "a dict keyed by name keeps only the last") from None


def _poster_hears(listener, waiting_for: str):
    """listener.next_note(), where a listener named as the poster that gets none of its own notes is told why (it
    heard the checker's probes: it is in the room)."""
    try:
        return listener.next_note(waiting_for=waiting_for)
    except Stalled:
        if listener.name != FAN_OUT_POSTER:
            raise
        raise Fail(f"subscriber {FAN_OUT_POSTER!r}, named as the poster, got no note of its own; the others "
                   "did", POSTER_HINT) from None


def _order(room: Room):
    ann = room.listen("ann")
    room.until_listening([ann])
    texts = ["first", "again", "again"]  # the same words twice are two notes
    answered, windows = [], []  # each Post's receipt, and when (wall clock) it was sent and answered
    for text in texts:
        sent = time.time()
        answered.append(room.post(text))
        windows.append((sent, time.time()))
    if answered[1] == answered[2] != 0:
        raise Fail(f"'again' posted twice was answered {answered[1]} both times",
                   "every Post is a note of its own, even with the words of the last: number it, hand it out and "
                   "answer its sequence")
    got = [ann.next_note(waiting_for=repr(text)) for text in texts]
    if [note.message for note in got] != texts:
        raise Fail(f"got {_texts(got)}; expected 'first', 'again', 'again'",
                   "hand the notes out in the order they were posted, under one lock, into inboxes that hand out "
                   "first what came in first (queue.SimpleQueue)")
    if [note.sequence for note in got] != answered or not answered[0] < answered[1] < answered[2]:
        raise Fail(f"the notes arrived numbered {[n.sequence for n in got]}; Post answered {answered}",
                   "hand out the note that history.add(request) returns (numbered), and answer its sequence")
    if not all(note.HasField("sent_at") for note in got):
        raise Fail("the notes arrived numbered as Post answered, but with no sent_at", AS_POSTED_HINT)
    if answered != list(range(answered[0], answered[0] + 3)):  # nobody else posts: one number a note
        raise Fail(f"three notes posted one after another were numbered {answered}: some numbers went to no note "
                   "handed out", KEPT_TWICE_HINT)
    # a sequence the client filled in is not a number the server gave: history.add numbers every note
    claimed = room.stub.Post(chat_pb2.Note(name="checker", message="numbered by me?", sequence=answered[0]),
                             timeout=CALL_TIMEOUT).sequence
    hint = ("number every note with history.add(request), whatever the client put in its sequence: the server "
            "numbers, a client cannot")
    if claimed != answered[-1] + 1:
        raise Fail(f"a note sent with sequence={answered[0]} already filled in was answered {claimed}; the next "
                   f"number was {answered[-1] + 1}", hint)
    numbered = ann.next_note(waiting_for="'numbered by me?'")
    if numbered.sequence != claimed:
        raise Fail(f"a note sent with sequence={answered[0]} already filled in arrived numbered otherwise than Post "
                   f"answered ({claimed})", hint)
    _stamped_when_posted(room, ann, [*got, numbered], windows)
    _first_receipt(room)


CLOCK_SLACK = 0.1  # s a sent_at may lie outside its Post's send and answer: the clocks' granularity
CLAIMED_TIME = "2001-09-09T01:46:40Z"  # the sent_at a client claims: long before anything the checker posts
STAMPED_HINT = ("keep the sent_at history.add(request) gave the note: the time the server took it, the same in "
                "every subscriber's copy and in every later replay. Stamp nothing in Subscribe: the note it yields is "
                "the one object every inbox and the history hold, so note.sent_at.GetCurrentTime() there gives it "
                "another time at each delivery")
CLAIMED_TIME_HINT = ("keep the sent_at history.add(request) stamps, whatever the client put in: chat.proto says the "
                     "server sets it and clients leave it empty. A client's time (a clock that is wrong, or a claim "
                     "to have posted first) is not when the room took the note")
FIRST_RECEIPT_HINT = ("number from 1, as chat.proto says (sequence counts from 1): history.add(request) numbers the "
                      "first note 1. A count of your own that starts at 0 answers the first Post 0, which on the wire "
                      "is no number at all (an int64 left unset)")


def _stamped_when_posted(room: Room, ann, got: list, windows: list[tuple[float, float]]) -> None:
    """Each note's sent_at is the time the server took it: within its Post (`windows`, of the first notes `ann` got),
    even when the client sent one of its own, and the same in a later replay. Every note ann is to hear comes before
    the newcomer of the replay joins: a fan-out to one inbox only must not hand one of them to the newcomer."""
    dated, window = _dated_by_the_client(room, ann)
    _replayed_as_delivered(room, ann, [*got, dated])  # first: a stamp on delivery shows there whatever the timing
    for note, posted in zip(got, windows, strict=False):  # the notes that follow them bring no window
        _stamped_within(note, posted, f"{note.message!r}", STAMPED_HINT)
    _stamped_within(dated, window, f"sent with sent_at={CLAIMED_TIME} already filled in", CLAIMED_TIME_HINT)


def _replayed_as_delivered(room: Room, ann, got) -> None:
    """A newcomer's replay of the notes `ann` got carries the same sent_at: a note is stamped once, when posted. A
    sent_at stamped on delivery changes the one note object every inbox and the history hold, so the replay, a few
    ms later, shows another time. A replay missing or wrong is the replay case's to name."""
    delivered = {note.sequence: note.sent_at for note in got}
    newcomer = room.listen("latecomer", replay=len(got))
    try:
        replayed = [newcomer.next_note(waiting_for="its replay") for _ in got]
    except Stalled:
        return
    finally:
        newcomer.call.cancel()
    for note in replayed:
        if note.sequence in delivered and note.sent_at != delivered[note.sequence]:
            raise Fail(f"note {note.sequence} ({note.message!r}) reached subscriber {ann.name} with sent_at "
                       f"{delivered[note.sequence].ToJsonString()}, and a newcomer's replay of it with "
                       f"{note.sent_at.ToJsonString()}", STAMPED_HINT)


def _stamped_within(note, window: tuple[float, float], what: str, hint: str) -> None:
    """The sent_at of `note` lies between its Post's send and answer (`window`, wall clock), give or take CLOCK_SLACK:
    the server stamps a note when it takes it."""
    sent, answered = window
    if not sent - CLOCK_SLACK <= note.sent_at.ToNanoseconds() / 1e9 <= answered + CLOCK_SLACK:
        shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent))
        raise Fail(f"the note {what} arrived with sent_at {note.sent_at.ToJsonString()}; it was posted at {shown} "
                   f"(and answered {answered - sent:.3f} s later)", hint)


def _dated_by_the_client(room: Room, ann) -> tuple[chat_pb2.Note, tuple[float, float]]:
    """A note posted with a sent_at of the client's (CLAIMED_TIME), as `ann` got it, and when its Post was sent and
    answered: the server's stamp, not the client's, must come."""
    note = chat_pb2.Note(name="checker", message="I posted this first")
    note.sent_at.FromJsonString(CLAIMED_TIME)
    sent = time.time()
    room.stub.Post(note, timeout=CALL_TIMEOUT)
    window = (sent, time.time())
    return ann.next_note(waiting_for="'I posted this first'"), window


def _first_receipt(room: Room) -> None:
    """The first Post to a fresh copy of the server is never answered 0: chat.proto counts from 1, and 0 is what a
    receipt with no number reads as. Only a fresh copy shows a count from 0, on its first note (about 0.25 s)."""
    with room.server.fresh() as copy, grpc.insecure_channel(copy.address) as channel:
        first = chat_pb2_grpc.ChatServerStub(channel).Post(chat_pb2.Note(name="checker", message="am I the first?"),
                                                           timeout=CALL_TIMEOUT).sequence
    if first == 0:
        raise Fail("the first note posted to a fresh copy of your server was answered 0: the number a receipt "
                   "without one reads as", FIRST_RECEIPT_HINT)


def _replay(room: Room):
    poster = room.listen(FAN_OUT_POSTER)  # named as the poster: a Subscribe that changes its notes for it shows
    room.until_listening([poster])
    for number in (1, 2, 3):
        room.post(f"history {number}", name=FAN_OUT_POSTER)
    for number in (1, 2, 3):
        _poster_hears(poster, f"'history {number}'")
    newcomer = room.listen("newcomer", replay=2)
    hint = "a new inbox starts with history.last(request.replay), oldest first, before it joins the room"
    try:
        got = [newcomer.next_note(waiting_for="the replayed history") for _ in range(2)]
    except Stalled as failure:
        raise Stalled(failure.got, hint) from None
    if [note.message for note in got] != ["history 2", "history 3"]:
        messages = [note.message for note in got]
        raise Fail(f"a subscriber asking for replay=2 got {_texts(got)} first; expected 'history 2', 'history 3'",
                   KEPT_TWICE_HINT if messages[0] == messages[1] else
                   REPLAY_ORDER_HINT if messages == ["history 3", "history 2"] else hint)
    if any(note.name != FAN_OUT_POSTER or not note.HasField("sent_at") for note in got):
        raise Fail(f"a subscriber asking for replay=2 got the notes as {', '.join(repr(note.name) for note in got)} "
                   f"wrote them, {'with' if all(note.HasField('sent_at') for note in got) else 'without'} their "
                   f"sent_at; {FAN_OUT_POSTER!r} wrote them, and history gave each a sent_at", AS_POSTED_HINT)
    _replays_its_own_notes(room)
    poster.call.cancel()
    listener = room.listen("no replay", replay=0)
    if not listener.joined.wait(CALL_TIMEOUT) or listener.call.done():
        return  # no join header: nothing tells when it joined (the header's case says so)
    room.post("after you joined")
    first = listener.next_note(waiting_for="'after you joined'")
    if first.message != "after you joined":
        raise Fail(f"a subscriber asking for replay=0 got {first.message!r} first, from before it joined; "
                   "expected 'after you joined'", "replay=0 asks for no old notes: history.last(request.replay) "
                   "gives none for 0, so replay exactly what the request asks for")
    for earlier in (newcomer, listener):  # the slow reader is alone in the room: a fan-out that misses one misses it
        earlier.call.cancel()
    _whole_history(room)
    _slow_reader(room)


OWN_REPLAY_HINT = ("replay the last notes of the room, whoever posted them: history.last(request.replay) as it is, "
                   "the subscriber's own notes too. Its pane shows what it sent before it (re)joined, and a name is "
                   "no one's own: two panes may share it")


def _replays_its_own_notes(room: Room) -> None:
    """A newcomer named as the poster of the last notes gets them replayed too, as one of another name did: a replay
    is the room's last notes, whoever wrote them."""
    own = room.listen(FAN_OUT_POSTER, replay=2)
    got = []
    try:
        while len(got) < 2:
            got.append(own.next_note(waiting_for="the replayed history").message)
    except Stalled:
        pass
    finally:
        own.call.cancel()
    if got != ["history 2", "history 3"]:
        shown = ", ".join(repr(message) for message in got) or "nothing"
        raise Fail(f"a subscriber named {FAN_OUT_POSTER!r} asking for replay=2 got {shown}; one named 'newcomer' "
                   f"got 'history 2', 'history 3', which {FAN_OUT_POSTER!r} had posted", OWN_REPLAY_HINT)


def _whole_history(room: Room) -> None:
    """replay=HISTORY gets every note the history holds, oldest first: a cap of one's own on the replay shows."""
    remembered = [f"old {number}" for number in range(HISTORY)]
    for text in remembered:
        room.post(text)
    listener = room.listen("remembers it all", replay=HISTORY)
    try:
        if not listener.joined.wait(CALL_TIMEOUT) and not listener.call.done():
            raise Stalled(f"a subscriber asking for replay={HISTORY} got no join header within {CALL_TIMEOUT:g} s; "
                          "one asking for replay=0 did", REPLAY_STUCK_HINT)
        if listener.call.done():
            return  # it ended at once: the cases of the header and of leaving say why
        room.post("and now")
        got = []
        while len(got) <= HISTORY and "and now" not in got:
            try:
                got.append(listener.next_note(waiting_for="the replayed history, then 'and now'").message)
            except Stalled:
                if got != remembered:
                    raise
                raise Stalled(f"a subscriber asking for replay={HISTORY} got its replay, but not 'and now', "
                              "posted once its join header had come", JOIN_FIRST_HINT) from None
        replayed = got[:got.index("and now")] if "and now" in got else got
        if replayed != remembered:
            first = f", from {replayed[0]!r}" if replayed else ""
            raise Fail(f"a subscriber asking for replay={HISTORY} (all the history holds) got {len(replayed)} old "
                       f"notes first{first}; expected the last {HISTORY}, from 'old 0'",
                       "replay what the request asks for: history.last(request.replay) gives that many, at most the "
                       f"{HISTORY} the history holds. A cap of your own, such as min(request.replay, 10), cuts a "
                       "newcomer's replay short")
    finally:
        listener.call.cancel()


def _slow_reader(room: Room) -> None:
    """A newcomer whose replay is bigger than its connection takes in unread: while it has not read it, MEANWHILE
    notes are posted. Joined first (the replay in its inbox), it gets them after the replay, and each Post is answered
    at once. A replay yielded before joining is still going out when the notes come, and misses them; a Post that
    waits for this reader (a yield under the lock, a full inbox) is not answered."""
    for number in range(SLOW_REPLAY):
        room.post(f"big {number} " + "x" * BIG_NOTE)
    meanwhile = [f"while you caught up {number}" for number in range(1, MEANWHILE + 1)]
    newcomer = f"a newcomer (replay={SLOW_REPLAY})"
    with grpc.insecure_channel(room.server.address, options=UNREAD_STAYS) as channel:
        call = chat_pb2_grpc.ChatServerStub(channel).Subscribe(
            chat_pb2.SubscribeRequest(name="slow reader", replay=SLOW_REPLAY), timeout=STREAM_LIFETIME)
        try:
            time.sleep(UNREAD_FOR)  # its replay waits in the server, unread
            answered, posting = 0, time.monotonic()
            for text in meanwhile:
                try:
                    room.post(text)
                except Stalled:
                    break
                answered += 1
                took = time.monotonic() - posting
                if answered >= PACED_AFTER and took / answered > SLOW_POST:
                    raise Fail(f"{answered} Posts, one after another, took {took:.1f} s ({took / answered * 1000:.0f} "
                               f"ms each), while {newcomer} had not read its replay; the {MEANWHILE:,} of this case "
                               f"would take {took / answered * MEANWHILE:.0f} s", SLOW_POST_HINT)
            notes = _read(call)  # now it reads: whatever waited for it goes on
            if answered < len(meanwhile):
                _messages(notes, SLOW_REPLAY + answered + 1)  # the waiting Post hands out its note: nothing stays stuck
                when = f"while {newcomer} had not read its replay yet"
                if answered == 0:
                    raise Stalled(f"{when}, a Post got no answer within {CALL_TIMEOUT:g} s", LOCKED_SEND_HINT)
                raise Stalled(f"{when}, {count(answered, 'Post')} got an answer, then one got none within "
                              f"{CALL_TIMEOUT:g} s", FULL_INBOX_HINT)
            got, cut = _notes_and_end(notes, SLOW_REPLAY + len(meanwhile))
            if cut is not None:
                kept = got[SLOW_REPLAY:]
                if cut.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or kept != meanwhile[:len(kept)]:
                    raise cut
                if len(kept) >= CUT_OFF_AFTER:
                    return  # cut off far behind, after every note until then, and told why: as the kit's server
                raise Fail(f"{newcomer} was cut off ({describe_rpc_error(cut)[:80]}) after {len(kept)} of the "
                           f"{len(meanwhile):,} notes posted while it had not read its replay", CUT_OFF_HINT)
            if got[SLOW_REPLAY:] != meanwhile:
                _explain_missed_notes(room, notes, got, meanwhile, newcomer)
        finally:
            call.cancel()


def _explain_missed_notes(room: Room, notes: queue.SimpleQueue, got: list[str], meanwhile: list[str],
                          newcomer: str) -> None:
    """Why the slow reader did not get the `meanwhile` notes after its replay: they came wrong, or it was not in the
    room while they were posted (one more note, posted now it has read its replay, tells whether it is now)."""
    heard = got[SLOW_REPLAY:]
    if heard and heard[0] == meanwhile[-1] and len(heard) > 1:  # the newest first: an inbox that hands out so
        raise Fail(f"{newcomer} that read its replay slowly got the {len(heard)} notes after it newest first "
                   f"({heard[0]!r}, then {heard[1]!r})", REPLAY_ORDER_HINT)
    if heard:
        raise Fail(f"{newcomer} that read its replay slowly got {len(heard)} notes after it: not the "
                   f"{len(meanwhile)} posted meanwhile, each once, in order (it got {heard[0]!r} first)",
                   "Post puts each note into every inbox, once, under the lock, and drops none")
    shown = f"{len(got)} notes" if len(got) != SLOW_REPLAY else f"its {SLOW_REPLAY} replayed notes only"
    room.post("are you in the room now?")
    if _messages(notes, 1) == ["are you in the room now?"]:  # it is now: it joined after its replay
        raise Stalled(f"{newcomer} that read its replay slowly got {shown}: not the {len(meanwhile)} notes "
                      "posted meanwhile", JOIN_FIRST_HINT)
    raise Stalled(f"{newcomer} that read its replay slowly got {shown}: none of the {len(meanwhile)} notes "
                  "posted meanwhile, nor one posted after it had read it", FAN_OUT_HINT + ", and Subscribe "
                  "adds its inbox to the room (self.inboxes) whatever replay it asked for")


def _read(call) -> queue.SimpleQueue:
    """The notes of a Subscribe `call` as they come, read on a thread of their own; then None, or the error that
    ended it."""
    notes = queue.SimpleQueue()

    def read():
        try:
            for note in call:
                notes.put(note)
            notes.put(None)
        except grpc.RpcError as error:
            notes.put(error)
    threading.Thread(target=read, name="checker-slow-reader", daemon=True).start()
    return notes


def _messages(notes: queue.SimpleQueue, most: int) -> list[str]:
    """The messages of up to `most` notes: fewer if the stream ends, or if one does not come within CALL_TIMEOUT;
    an error that ended the stream (but a cancel or a deadline) is raised."""
    got, error = _notes_and_end(notes, most)
    if error is not None:
        raise error
    return got


def _notes_and_end(notes: queue.SimpleQueue, most: int) -> tuple[list[str], grpc.RpcError | None]:
    """The messages of up to `most` notes, as _messages reads them, and the error that ended the stream, if one did
    (a cancel or a deadline is no error here: the checker ends its calls so)."""
    got = []
    while len(got) < most:
        try:
            note = notes.get(timeout=CALL_TIMEOUT)
        except queue.Empty:
            break
        if isinstance(note, grpc.RpcError):
            if note.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                return got, note
            break
        if note is None:
            break
        got.append(note.message)
    return got, None


INVALID_NOTES = {  # what is wrong: (the note, words of which the refusal must hold one)
    "an empty message": (chat_pb2.Note(name="Quentin", message=""), ("empty",)),
    "a message of spaces": (chat_pb2.Note(name="Quentin", message="   "), ("empty",)),
    f"a {MAX_MESSAGE + 1:,}-character message": (chat_pb2.Note(name="Quentin", message="x" * (MAX_MESSAGE + 1)),
                                                 (f"{MAX_MESSAGE:,}", str(MAX_MESSAGE))),
    "a note without a name": (chat_pb2.Note(name="", message="hello"), ("name",)),
    f"a {MAX_NAME + 1}-character name": (chat_pb2.Note(name="n" * (MAX_NAME + 1), message="hello"), (str(MAX_NAME),)),
    # quoted in a refusal, a name this long grows past the metadata limit: the client gets RESOURCE_EXHAUSTED
    f"a {MAX_MESSAGE:,}-character name": (chat_pb2.Note(name="n" * MAX_MESSAGE, message="hello"), (str(MAX_NAME),)),
}
AT_THE_LIMITS = [  # (what, name, message): notes the room takes; the limits count characters, not bytes
    (f"a {MAX_NAME}-character name, a {MAX_MESSAGE:,}-character message", "n" * MAX_NAME, "x" * MAX_MESSAGE),
    (f"a {MAX_MESSAGE:,}-character message of emoji, 4 bytes each", "李雷", "👋" * MAX_MESSAGE),
    (f"a {MAX_NAME}-character name not in ASCII", "é" * MAX_NAME, "bonjour"),
]
LONGEST_REFUSAL = 200  # characters: a sentence that says what is wrong, never the note itself
QUOTE = 6  # characters of a name or message that, found in a refusal, show it quoted the note


def _refusals(room: Room):
    """(what is wrong, the words its refusal needs, the details it got, or a Fail if it was not refused)."""
    for what, (note, words) in INVALID_NOTES.items():
        try:
            details = expect_status(lambda note=note: _post_invalid(room, note), grpc.StatusCode.INVALID_ARGUMENT,
                                    "when problem_with_note(request) finds a problem, end the call with "
                                    "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)")
        except Fail as failure:
            yield what, words, Fail(f"{what}: {failure.got}", failure.hint)
        else:
            yield what, words, details


def _post_invalid(room: Room, note: chat_pb2.Note):
    try:
        return room.stub.Post(note, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "metadata" in (error.details() or ""):
            raise Fail(f"got {describe_rpc_error(error)}; expected INVALID_ARGUMENT", QUOTED_HINT) from None
        if error.code() == grpc.StatusCode.UNKNOWN and (error.details() or "").startswith(RAISED_PREFIXES):
            raise Fail(f"got {describe_rpc_error(error)[:100]}; expected INVALID_ARGUMENT",
                       "refuse with context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem): an exception of your "
                       "own (raise ValueError(problem)) ends the call UNKNOWN, and the client cannot tell a wrong "
                       "note from a broken server") from None
        raise


def _rejects_invalid(room: Room):
    watcher = room.listen("watcher")
    room.until_listening([watcher])
    before = room.post("before the invalid notes")
    for _, _, details in _refusals(room):
        if isinstance(details, Fail):
            raise details
    after = room.post("after the invalid notes")
    heard = []
    while not heard or heard[-1].message != "after the invalid notes":
        try:
            heard.append(watcher.next_note(waiting_for="'after the invalid notes'"))
        except Stalled:
            break  # the fan-out's cases say why
    sent = {(note.name, note.message) for note, _ in INVALID_NOTES.values()}  # not a note an earlier case left
    refused = [note for note in heard if (note.name, note.message) in sent]
    if refused:
        raise Fail(f"{len(refused)} refused note(s) still reached a subscriber, such as {refused[0].message[:40]!r} "
                   f"from {refused[0].name[:20]!r}: the call went on after its refusal",
                   "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem) ends the call by raising: set_code and "
                   "set_details alone let the method go on, and so does an except around the abort")
    if before == after == 0:
        return  # Post answers no sequence at all: the order case says so, and no number can be compared here
    if after == before + 2:  # one number more than the note after: each note takes two
        raise Fail(f"the valid notes around {len(INVALID_NOTES)} refused ones got numbers {before} and {after}",
                   KEPT_TWICE_HINT)
    if after == before:
        raise Fail(f"the valid notes around {len(INVALID_NOTES)} refused ones both got number {after}",
                   "number each note with what history.add(request) gives it: its count goes on past the 50 notes "
                   "the history keeps, where len(self.history) stops at 50")
    if after != before + 1:
        raise Fail(f"the valid notes around {len(INVALID_NOTES)} refused ones got numbers {before} and {after}: "
                   "the refused notes took numbers",
                   "refuse first, number after: call problem_with_note(request) before history.add, so a refused "
                   "note is never numbered, kept or replayed")
    for what, name, message in AT_THE_LIMITS:
        try:
            room.post(message, name=name)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            raise Fail(f"a note at the limits ({what}) was refused: {describe_rpc_error(error)[:100]}",
                       STRICTER_HINT) from None
    if heard and heard[-1].message == "after the invalid notes":  # the watcher hears what is posted
        _delivered_whole(watcher)


WHOLE_HINT = (f"hand out each note whole, as posted: the room takes a name of up to {MAX_NAME} characters and a "
              f"message of up to {MAX_MESSAGE:,}, and every subscriber gets it so (a pane scrolls). Cut nothing in "
              "Post or Subscribe: a note too long is problem_with_note's to refuse")


def _delivered_whole(watcher) -> None:
    """The notes at the limits, just posted, reach `watcher` whole, in whatever order: a note the room takes is
    never cut on its way (a message shortened to keep panes readable, say)."""
    got = []
    try:
        while len(got) < len(AT_THE_LIMITS):
            got.append(watcher.next_note(waiting_for="the notes at the limits"))
    except Stalled:
        return  # the fan-out's cases say why
    received = {(note.name, note.message) for note in got}
    for (what, name, message), note in zip(AT_THE_LIMITS, got, strict=True):
        if (name, message) not in received:
            ending = f", ending {note.message[-3:]!r}" if note.message != message else ""
            raise Fail(f"a note at the limits ({what}) reached a subscriber as a {len(note.name)}-character name "
                       f"and a {len(note.message):,}-character message{ending}", WHOLE_HINT)


def _says_what_is_wrong(room: Room):
    for what, words, details in _refusals(room):
        if isinstance(details, Fail):
            continue  # not refused at all: the case above says so
        if len(details) > LONGEST_REFUSAL:
            raise Fail(f"{what} was refused with {len(details):,} characters of details", QUOTED_HINT)
        if not any(word in details for word in words):
            expected = " or ".join(repr(word) for word in words)
            raise Fail(f"{what} was refused with {details!r}, which does not mention {expected}", WORDS_HINT)
        note = INVALID_NOTES[what][0]
        quoted = [part for part in (note.name[:QUOTE], note.message.strip()[:QUOTE]) if len(part) >= 4]
        if any(part in details for part in quoted):
            raise Fail(f"{what} was refused with {details[:100]!r}, which quotes the note", QUOTED_HINT)


def _room_of(size: int):
    def case(room: Room):
        listeners = room.fill(size)
        _replayed_at_once(room, size)
        room.post("welcome, everyone")
        for listener in listeners:
            listener.next_note(waiting_for="'welcome, everyone'")
    return case


def _replayed_at_once(room: Room, size: int) -> None:
    """A newcomer that joins while `size` subscribers wait gets its replay at once, with nobody posting. A wait for a
    note that needs what the waiting subscribers hold (asyncio.to_thread(inbox.get): a thread of asyncio's few) gives
    it nothing until a Post wakes one; a Subscribe that replays nothing is the replay case's to name."""
    newcomer = room.listen("latecomer", replay=LATECOMER_REPLAY)
    try:
        newcomer.next_note(waiting_for="its replay, with nobody posting")
    except Stalled:
        room.post("are you there?")
        if newcomer.next_note(waiting_for="'are you there?'").message != "are you there?":  # its replay, only now
            raise Fail(f"a newcomer asking for replay={LATECOMER_REPLAY}, who joined while {size} subscribers waited, "
                       f"got nothing within {CALL_TIMEOUT:g} s, and its replay only once a note was posted",
                       REPLAY_WAITED_HINT) from None


RULES = {  # Exercise 8.1: each rule is one case; (case, whether it needs a fresh server, or the env of its copy)
    "the join header comes at once, with nobody posting": (_join_header, False),
    "a post reaches every subscriber": (_fan_out, False),
    "notes arrive in the order posted, numbered as Post answered": (_order, False),
    f"a newcomer asking replay=2 first gets the last 2 notes, oldest first; replay=0 gets none; replay={HISTORY} "
    f"all {HISTORY}; the {MEANWHILE:,} notes posted while a newcomer reads its replay slowly are answered and come "
    "after it": (_replay, False),
    "invalid notes (empty, too long, nameless) → INVALID_ARGUMENT, and no number; a note at the limits is taken": (
        _rejects_invalid, False),
    "the refusal says what is wrong, in problem_with_note's words": (_says_what_is_wrong, False),
    f"{POSTERS} clients posting at once: every subscriber gets each note once, in order, numbered as its Post "
    "answered": (posting_at_once, {SWITCH_SETTING: str(SWITCH_INTERVAL)}),
    f"a room of {ROOM_SIZE}, and Posts still answered (the thread pool does not cap it); a newcomer joining it gets "
    "its replay at once": (_room_of(ROOM_SIZE), True),
    f"{ROOM_SIZE} waiting subscribers sleep: no thread wakes up in {IDLE_SECONDS:g} s, no CPU (no polling)":
        (lambda room: idle(room, ROOM_SIZE), True),
    "a cancelled subscriber leaves at once: no post to wake it, no poll to wait for": (leaves_when_cancelled, True),
    "a subscriber that left is out of the room: later notes are not kept for it": (forgets_who_left, True),
}


def _in_room(server: Target, case, fresh: bool | dict):
    rooms: list[Room] = []

    def in_room(target: Target):
        with Room(target, ROOM_SIZE) as room:
            rooms.append(room)
            try:
                return case(room)
            except Stalled as stall:  # a busy loop stalls everything: if the server spins, that is the cause
                raise Fail(stall.got, room.spinning() or room.missed_notes_hint(stall.hint)) from None
            except Fail as failure:
                hint = room.missed_notes_hint(failure.hint)
                if any(_returned(listener.call) for listener in room.listeners):  # one inbox for all: another's None
                    shared = room.missed_notes_hint(FAN_OUT_HINT) == SHARED_INBOX_HINT
                    hint = SHARED_INBOX_HINT if shared else RETURNED_HINT
                if hint != failure.hint:
                    raise Fail(failure.got, hint) from None
                raise
            except grpc.RpcError as error:
                changed = changed_under_post(error, room)
                if changed:
                    raise changed from None
                if "Invalid metadata" in (error.details() or ""):
                    raise Fail(f"a call ended {describe_rpc_error(error)}", METADATA_HINT) from None
                shown = f"with {count(len(room.listeners), 'subscriber')} connected, a call got"
                if (error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                        and "Concurrent RPC limit" in (error.details() or "")):
                    raise Fail(f"{shown} {describe_rpc_error(error)}", CONCURRENCY_HINT) from None
                if error.code() == grpc.StatusCode.INVALID_ARGUMENT:  # the checker posts only notes the kit takes
                    raise Fail(f"your server refused a note problem_with_note finds nothing wrong with: "
                               f"{describe_rpc_error(error)[:100]}", STRICTER_HINT) from None
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
                raise Fail(f"{shown} no answer in time", room.spinning() or room.stalled_post_hint()) from None

    def run():
        if not fresh:
            return in_room(server)
        with server.fresh(env=fresh if isinstance(fresh, dict) else None) as copy:
            return in_room(copy)

    run.late_hint = lambda: rooms[-1].slow_post_hint() if rooms else None  # a case past its deadline: slow Posts?
    return run


def _returned(call) -> bool:
    """Whether a Subscribe stream ended by itself, with OK: its method returned (the checker cancels, or lets a
    deadline pass, otherwise)."""
    return call.done() and call.code() == grpc.StatusCode.OK


def check_chat_server(server) -> CheckResult:
    """Exercise 8.1: `server` is the RunningServer of my_chat_server.py (or its address)."""
    server = target(server)
    cases = [(label, _in_room(server, case, fresh)) for label, (case, fresh) in RULES.items()]
    # the idle case watches a quiet room for IDLE_SECONDS on top of what a case may take
    return run_checks("Chat server (Subscribe + Post)", cases, deadline=CASE_DEADLINE + IDLE_SECONDS, target=server)
