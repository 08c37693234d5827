"""check_chat_server: ✗ on the shipped skeleton, ✓ on the answer, and each wrong answer below breaks
one rule of workshop.checkers.chat.RULES, gets ✗ on that case, and a hint that names the cause."""
import re

import exercises
import grpc
import pytest
from exercises import answer, check_server_cell, failed, skeleton, write_cell

import server_runner
from workshop.checkers import chat, chat_crowd
from workshop.checkers.chat import RULES, check_chat_server
from workshop.checkers.support import Fail
from workshop.protos import chat_pb2

SOLUTION = "08_1_chat_server.py"
HEADER, FAN_OUT, NUMBERED, REPLAY, INVALID, WORDS, AT_ONCE, ROOM, IDLE, LEAVES, FORGETS = RULES


def wrong(replace: str, by: str) -> str:
    """The answer with one typical mistake put in."""
    return exercises.wrong(SOLUTION, replace, by)


NO_JOIN_HEADER = wrong('''        context.send_initial_metadata(())''', "")  # panes then stay at "joining…"

ONE_SUBSCRIBER_HEARS = wrong("for inbox in self.inboxes:", "for inbox in list(self.inboxes)[:1]:")
ONE_SUBSCRIBER_LEFT_OUT = wrong("for inbox in self.inboxes:", "for inbox in list(self.inboxes)[1:]:")


def inbox_on_self(source: str) -> str:
    """`source` with Subscribe's inbox kept on self: one for every call, each of which takes what it finds there."""
    head, subscribe, rest = source.partition("    def Subscribe")
    body, post, tail = rest.partition("    def Post")
    assert body.count("inbox = queue.SimpleQueue()") == 1, "the answer changed; update this wrong answer"
    return head + subscribe + re.sub(r"(?<![.\w])inbox\b", "self.inbox", body) + post + tail


INBOX_ON_SELF = inbox_on_self(answer(SOLUTION))

HAND_OUT = """            note = self.history.add(request)
            for inbox in self.inboxes:
                inbox.put(note)"""
UNNUMBERED = wrong(HAND_OUT, HAND_OUT.replace("inbox.put(note)", "inbox.put(request)"))

HANDS_OUT_AFTER_THE_LOCK = wrong(HAND_OUT, """            note = self.history.add(request)
        time.sleep(random.uniform(0, 0.02))  # e.g. logging it: other Posts get in meanwhile
        for inbox in list(self.inboxes):
            inbox.put(note)""").replace("import threading", "import random\nimport threading\nimport time")

JOIN = """        with self.lock:
            for note in self.history.last(request.replay):
                inbox.put(note)
            self.inboxes.add(inbox)"""
LEAVE = """            with self.lock:
                self.inboxes.discard(inbox)"""


def without_the_lock(source: str) -> str:
    """`source` with its Subscribe joining and leaving without the lock."""
    assert JOIN in source and LEAVE in source, "the answer changed; update this wrong answer"
    return source.replace(JOIN, """        for note in self.history.last(request.replay):
            inbox.put(note)
        self.inboxes.add(inbox)""").replace(LEAVE, "            self.inboxes.discard(inbox)")


NO_LOCK_AND_A_PRINT = without_the_lock(wrong("        with self.lock:\n" + HAND_OUT, """\
        note = self.history.add(request)
        for inbox in self.inboxes:
            inbox.put(note)
            print("handed out", note.sequence)  # writing lets other threads run, mid-loop"""))

NO_REPLAY = wrong("self.history.last(request.replay)", "[]")
HEADER_LINE = '        context.send_initial_metadata(())  # "you are in the room": sent now, before any note\n'
REPLAY_BEFORE_JOINING = exercises.wrong_in_places(SOLUTION, {HEADER_LINE: "", JOIN: """\
        context.send_initial_metadata(())
        for note in self.history.last(request.replay):
            yield note  # the mistake: the replay goes out before joining, and what is posted meanwhile is lost
        with self.lock:
            self.inboxes.add(inbox)
"""})
# The same replay before joining, but the header sent after it: gRPC refuses a header once a yield has sent one
REPLAY_THEN_HEADER = exercises.wrong_in_places(SOLUTION, {HEADER_LINE: "", JOIN: """\
        for note in self.history.last(request.replay):
            yield note  # the mistake: the replay goes out before joining, and before the header
        with self.lock:
            self.inboxes.add(inbox)
        context.send_initial_metadata(())
"""})
# "a rate limit": a sleep under the lock, which every Post and every join then waits for
SLOW_POSTS = wrong(HAND_OUT, HAND_OUT.replace("note = self.history.add(request)",
                                              "time.sleep(0.1)  # the mistake: one note per 0.1 s\n"
                                              "            note = self.history.add(request)")).replace(
    "import threading", "import threading\nimport time")
# Gaps a few instructions wide, which the GIL hides at Python's default switching: the crowd's copy shows them
FAN_OUT_OUTSIDE_THE_LOCK = wrong(HAND_OUT, """            note = self.history.add(request)
        for inbox in list(self.inboxes):  # the mistake: handed out after the lock is let go
            inbox.put(note)""")
NO_LOCK_IN_POST = wrong("        with self.lock:\n" + HAND_OUT, """\
        note = self.history.add(request)  # the mistake: History numbers under a lock of its own, but the
        for inbox in list(self.inboxes):  # hand-out is not in it
            inbox.put(note)""")

REFUSES = '''        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)'''
ACCEPTS_INVALID_NOTES = wrong(REFUSES, "")
SAYS_ONLY_INVALID = wrong(REFUSES, REFUSES.replace("problem)", '"invalid note")'))
# a refusal's details travel in the trailing metadata: quoting a long name or message grows them past its limit
QUOTES_THE_NAME = wrong(REFUSES, REFUSES.replace("problem)", 'f"{problem} (from {request.name!r})")'))
QUOTES_THE_MESSAGE = wrong(REFUSES, REFUSES.replace("problem)", 'f"{problem}: {request.message!r}")'))
QUOTES_A_LITTLE_OF_THE_NAME = wrong(REFUSES, REFUSES.replace("problem)", 'f"{problem} (from {request.name[:15]!r})")'))
QUOTES_A_LITTLE_OF_THE_MESSAGE = wrong(REFUSES, REFUSES.replace("problem)",
                                                                'f"{problem} (got {request.message[:15]!r})")'))
A_LIMIT_OF_ITS_OWN = wrong(REFUSES, REFUSES + """
        if len(request.message) > 10_000:  # the mistake: stricter than the kit's 20,000
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "too long")""")
CHECK_THEN_NUMBER = f"""        problem = problem_with_note(request)
{REFUSES}
        with self.lock:
            note = self.history.add(request)
"""
NUMBERS_BEFORE_REFUSING = wrong(CHECK_THEN_NUMBER, f"""        with self.lock:
            note = self.history.add(request)  # the mistake: numbered (and kept) before the check
            problem = problem_with_note(request)
    {REFUSES.replace(chr(10), chr(10) + "    ")}
""")

WAIT_IN_THE_INBOX = "        while (note := inbox.get()) is not None:  # sleeps until a note arrives: no polling"
ADD_CALLBACK = '''        if not context.add_callback(leave):
            leave()  # the call had already ended'''


def polls(every: float) -> str:
    """The polling loop a newcomer wrote: no add_callback; it leaves in a finally, when is_active() says so."""
    return wrong(WAIT_IN_THE_INBOX + "\n            yield note", f'''        try:
            while context.is_active():
                try:
                    note = inbox.get(timeout={every})  # "anything new?" every {every} s, for every subscriber
                except queue.Empty:
                    continue
                yield note
        finally:
            leave()''').replace(ADD_CALLBACK, "")


# leave() still wakes it at once, but meanwhile it looks every 5 s
POLLS_EVERY_5_S = wrong(WAIT_IN_THE_INBOX + "\n            yield note", """        while True:
            try:
                note = inbox.get(timeout=5)
            except queue.Empty:
                continue
            if note is None:
                return
            yield note""")

BUSY_LOOP = wrong(WAIT_IN_THE_INBOX + "\n            yield note", '''
        while context.is_active():  # the source talk's loop: "anything new?", without a pause
            if not inbox.empty():
                if (note := inbox.get()) is None:
                    return
                yield note''')

POOL_OF_TEN = wrong("MAX_WORKERS = 100", "MAX_WORKERS = 10")  # the source talk's pool
CALLS_CAPPED_AT_50 = wrong("\n\nclass ChatServer", """
MAX_CONCURRENT_RPCS = 50  # the mistake: a room of 50 streams, and no call left for a Post


class ChatServer""")

NEVER_LEAVES = wrong(ADD_CALLBACK, "")  # sleeps in inbox.get() until a Post wakes it

# In place of add_callback, a thread per subscriber that looks every second whether its call is still active: it
# leaves, but late (after the forgetting case's rounds, which end about 0.7 s after the cancel)
WATCHES_EVERY_SECOND = wrong(ADD_CALLBACK, """        def watch():
            while context.is_active():
                time.sleep(1.0)
            leave()

        threading.Thread(target=watch, daemon=True).start()""").replace("import threading",
                                                                          "import threading\nimport time")

STAYS_IN_THE_ROOM = wrong(LEAVE + "\n", "")  # leave() only wakes the loop: the inbox stays in self.inboxes

LEAVES_AS_IT_JOINS = wrong("context.add_callback(leave)", "context.add_callback(leave())")  # called, not passed

YIELDS_UNDER_THE_LOCK = wrong(WAIT_IN_THE_INBOX + "\n            yield note", WAIT_IN_THE_INBOX + """
            with self.lock:  # the mistake: held while the note goes out, as long as its client takes to read it
                yield note""")

BOUNDED_INBOXES = wrong("inbox = queue.SimpleQueue()", "inbox = queue.Queue(maxsize=5)")  # put() waits while full
# "a slow reader must not eat all memory": the notes that do not fit are lost, and nobody is told
DROPS_WHAT_DOES_NOT_FIT = exercises.wrong_in_places(SOLUTION, {
    "inbox = queue.SimpleQueue()": "inbox = queue.Queue(maxsize=1000)",
    "                inbox.put(note)\n        return": """\
                try:
                    inbox.put_nowait(note)
                except queue.Full:  # the mistake: the note is lost
                    pass
        return"""})
# A reader cut off (told, with RESOURCE_EXHAUSTED) once 100 notes behind: the kit's server waits for 1,000
CUTS_OFF_SOON = exercises.wrong_in_places(SOLUTION, {
    "            for inbox in self.inboxes:\n                inbox.put(note)": """\
            for inbox in list(self.inboxes):
                if inbox.qsize() >= 100:  # the mistake: a reader slow for a moment is cut off
                    self.inboxes.discard(inbox)
                    inbox.put("cut off")
                else:
                    inbox.put(note)""",
    "            yield note": """\
            if note == "cut off":
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "you fell behind; subscribe again")
            yield note"""})

# The receipt read once the lock is let go: another Post may have numbered a note since. A log line between widens
# the gap, so every run shows it (the walker's bare self.posted += 1 outside the lock showed in 13 of 15 runs)
RECEIPT_AFTER_THE_LOCK = wrong("        return chat_pb2.PostResponse(sequence=note.sequence)", """\
        print("posted", note.sequence)  # writing lets other threads run
        return chat_pb2.PostResponse(sequence=self.history.last(1)[0].sequence)  # the mistake: the newest note's""")
# "keep it off the event loop": each wait for a note takes one of asyncio's few default threads, which the first
# subscribers keep, so a newcomer to a full room gets its replay only once someone posts
AIO_TO_THREAD = exercises.wrong_in_places(SOLUTION, {
    "import queue\n": "import asyncio\nimport queue\n",
    "MAX_WORKERS = 100": "ASYNCIO = True",
    "    def Subscribe(self, request, context):": "    async def Subscribe(self, request, context):",
    "        def leave():": "        def leave(_call=None):",
    ADD_CALLBACK: "        context.add_done_callback(leave)",
    HEADER_LINE: "        await context.send_initial_metadata(())\n",
    WAIT_IN_THE_INBOX + "\n            yield note": """\
        while (note := await asyncio.to_thread(inbox.get)) is not None:  # the mistake: a thread of a few per wait
            yield note""",
    "    def Post(self, request, context):": "    async def Post(self, request, context):",
    "            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)":
        "            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)"})

HOLDS_THE_LOCK_WHILE_WAITING = wrong('''            self.inboxes.add(inbox)
''', '''            self.inboxes.add(inbox)
            context.send_initial_metadata(())
            while (note := inbox.get()) is not None:  # waits for a Post, which waits for this lock
                yield note
''')

# A note's time changed on its way: stamped again at each delivery, on the one note object every inbox and the
# history hold (a replay later shows another time), or taken from what the client claims
STAMPED_ON_DELIVERY = wrong(WAIT_IN_THE_INBOX + "\n            yield note", WAIT_IN_THE_INBOX + """
            note.sent_at.GetCurrentTime()  # the mistake: "when this subscriber got it"
            yield note""")
TRUSTS_THE_CLIENTS_TIME = wrong("            note = self.history.add(request)\n", """\
            note = self.history.add(request)
            if request.HasField("sent_at"):  # the mistake: "the client knows when it was written"
                note.sent_at.CopyFrom(request.sent_at)
""")
# "you know what you said": a newcomer's replay leaves out the notes of its name
REPLAY_WITHOUT_ITS_OWN = wrong("for note in self.history.last(request.replay):",
                               "for note in [n for n in self.history.last(request.replay) if n.name != request.name]:")
# "keep panes readable": a long note cut on its way to each subscriber
CUTS_LONG_NOTES = wrong(WAIT_IN_THE_INBOX + "\n            yield note", WAIT_IN_THE_INBOX + """
            if len(note.message) > 2000:  # the mistake: a note the room took, delivered cut
                note = chat_pb2.Note(name=note.name, message=note.message[:2000] + "…", sequence=note.sequence,
                                     sent_at=note.sent_at)
            yield note""")
# A count of its own from 0: the first note (only on a fresh server) is answered 0, no number on the wire
NUMBERS_FROM_0 = wrong("            note = self.history.add(request)\n", """\
            note = self.history.add(request)
            note.sequence -= 1  # the mistake: counted from 0
""")


# (a missing lock shows as a note overtaken, doubled or missed, each naming it ('poster …'): the race decides)
ONE_RULE_BROKEN = {  # wrong answer: (the rule it breaks, words of what the case got, words of its hint)
    "no_join_header": (NO_JOIN_HEADER, HEADER, "no join header", "send_initial_metadata"),
    "unnumbered_notes": (UNNUMBERED, NUMBERED, "numbered [0, 0, 0]", "history.add"),
    "replay_ignored": (NO_REPLAY, REPLAY, "the replayed history", "history.last(request.replay)"),
    "replays_50_whatever_was_asked": (wrong("self.history.last(request.replay)", "self.history.last(50)"), REPLAY,
                                      "asking for replay=2 got", "history.last(request.replay)"),
    # the poster's own subscription left out: its pane stays empty
    "inboxes_by_name": (exercises.wrong_in_places(SOLUTION, {
        "self.inboxes = set()": "self.inboxes = {}",
        "            self.inboxes.add(inbox)": "            self.inboxes[request.name] = inbox  # the mistake",
        "                self.inboxes.discard(inbox)": "                self.inboxes.pop(request.name, None)",
        "for inbox in self.inboxes:": "for inbox in self.inboxes.values():"}), FAN_OUT,
        "of two subscribers named 'twin', one got nothing", "not one per name"),
    "escapes_html": (wrong("note = self.history.add(request)", "request.message = html.escape(request.message)\n"
                           "            note = self.history.add(request)").replace("import queue",
                                                                                   "import html\nimport queue"),
                     FAN_OUT, "got 'poster': '  &lt;b&gt;", "no escaping, no strip"),
    "drops_a_repeat": (wrong("        with self.lock:\n            note = self.history.add(request)", """\
        with self.lock:
            last = self.history.last(1)
            if last and last[0].message == request.message:  # the mistake: "a double click"
                return chat_pb2.PostResponse(sequence=last[0].sequence)
            note = self.history.add(request)"""), NUMBERED, "'again' posted twice was answered", "a note of its own"),
    "trusts_the_clients_number": (wrong("        with self.lock:\n            note = self.history.add(request)", """\
        if request.sequence:  # the mistake: "already numbered"
            return chat_pb2.PostResponse(sequence=request.sequence)
        with self.lock:
            note = self.history.add(request)"""), NUMBERED, "a note sent with sequence=", "whatever the client put"),
    "names_in_ascii_only": (wrong(REFUSES, REFUSES + """
        if not request.name.isascii():  # the mistake: "names in ASCII"
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "names are ASCII")"""), INVALID,
                            "a note at the limits (a 20,000-character message of emoji", "refuse only what"),
    "raises_its_own_exception": (wrong(REFUSES, REFUSES.replace("context.abort(grpc.StatusCode.INVALID_ARGUMENT, "
                                                                "problem)", "raise ValueError(problem)")),
                                 INVALID, "expected INVALID_ARGUMENT", "an exception of your own"),
    "replay_capped_at_10": (wrong("self.history.last(request.replay)", "self.history.last(min(request.replay, 10))"),
                            REPLAY, "asking for replay=50 (all the history holds) got 10 old notes first",
                            "min(request.replay, 10)"),
    "replays_50_when_none_was_asked": (wrong("self.history.last(request.replay)",
                                             "self.history.last(request.replay or 50)"), REPLAY,
                                       "asking for replay=0 got", "replay exactly what the request asks for"),
    "invalid_notes_accepted": (ACCEPTS_INVALID_NOTES, INVALID, "expected INVALID_ARGUMENT", "problem_with_note"),
    "numbers_before_refusing": (NUMBERS_BEFORE_REFUSING, INVALID, "the refused notes took numbers", "refuse first"),
    "refusal_that_does_not_end_the_call": (wrong(REFUSES, """        if problem:
            context.set_code(grpc.StatusCode.INVALID_ARGUMENT)  # the mistake: the method goes on
            context.set_details(problem)"""), INVALID, "the call went on after its refusal", "set_code"),
    "abort_swallowed": (wrong(REFUSES, """        try:
            if problem:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        except Exception:  # the mistake: it catches the exception that ends the call
            pass"""), INVALID, "the call went on after its refusal", "an except around the abort"),
    "refusal_without_its_words": (SAYS_ONLY_INVALID, WORDS, "'invalid note', which does not mention", "problem_with"),
    "refusal_that_quotes_a_little_of_the_name": (QUOTES_A_LITTLE_OF_THE_NAME, WORDS, "which quotes the note",
                                                 "Quote nothing of the note"),
    "refusal_that_quotes_a_little_of_the_message": (QUOTES_A_LITTLE_OF_THE_MESSAGE, WORDS, "which quotes the note",
                                                    "Quote nothing of the note"),
    "hands_out_after_the_lock": (HANDS_OUT_AFTER_THE_LOCK, AT_ONCE, "'poster", "self.lock"),
    "fan_out_outside_the_lock": (FAN_OUT_OUTSIDE_THE_LOCK, AT_ONCE, "'poster", "self.lock"),
    "no_lock_in_post": (NO_LOCK_IN_POST, AT_ONCE, "'poster", "self.lock"),
    "polls_every_0_2_s": (polls(0.2), IDLE, "threads of your server woke up", "inbox.get() with no timeout"),
    "polls_every_5_s": (POLLS_EVERY_5_S, IDLE, "threads of your server woke up in 6 s", "with no timeout"),
    "stays_in_the_room": (STAYS_IN_THE_ROOM, FORGETS, "posted to nobody, made your server's memory grow",
                          "take the inbox out of self.inboxes"),
    # leave() is right: the history keeps 1,000 notes, which a copy that nobody joined shows as well
    "a_history_of_1000": (wrong("History()", "History(size=1000)"), FORGETS,
                          "and so in a copy of it that nobody had joined: it keeps the notes themselves",
                          "History(size=1000)"),
    "receipt_read_after_the_lock": (RECEIPT_AFTER_THE_LOCK, AT_ONCE, "Post answered", "a client's receipt names "
                                    "another note"),
    "sent_at_stamped_on_delivery": (STAMPED_ON_DELIVERY, NUMBERED, "and a newcomer's replay of it with",
                                    "Stamp nothing in Subscribe"),
    "trusts_the_clients_sent_at": (TRUSTS_THE_CLIENTS_TIME, NUMBERED, "sent with sent_at=2001-09-09T01:46:40Z already "
                                   "filled in arrived with sent_at 2001-09-09T01:46:40Z", "whatever the client put in"),
    "replay_without_its_own_notes": (REPLAY_WITHOUT_ITS_OWN, REPLAY, "a subscriber named 'poster' asking for replay=2 "
                                     "got nothing", "whoever posted them"),
    "cuts_long_notes": (CUTS_LONG_NOTES, INVALID, "reached a subscriber as a 32-character name and a 2,001-character "
                        "message, ending 'xx…'", "hand out each note whole"),
    "numbers_from_0": (NUMBERS_FROM_0, NUMBERED, "a fresh copy of your server was answered 0", "number from 1"),
}

# Wrong answers that break more than one rule, some only when a race goes their way (said where it does): (the rules
# it always breaks, the rules it may break too, words of what the first of them got, words of every failing rule's
# hint). None is a poll or a slow leaver: test_checkers_chat_rules runs them with a short quiet window and lenient
# leaving.
SEVERAL_RULES_BROKEN = {
    # every open Subscribe is a stream on the checker's one connection: the room of 50 leaves none for a Post
    "streams_capped_at_50": (wrong("\n\nclass ChatServer", '\nOPTIONS = [("grpc.max_concurrent_streams", 50)]  # the '
                                   'mistake: per connection\n\n\nclass ChatServer'), {ROOM, IDLE, LEAVES}, set(),
                             "a Post got no answer", "grpc.max_concurrent_streams in your module's OPTIONS"),
    # every open Subscribe is a call: the room of 50 (and the pool's worth of leavers) get RESOURCE_EXHAUSTED
    "calls_capped_at_50": (CALLS_CAPPED_AT_50, {ROOM, IDLE, LEAVES}, set(), "RESOURCE_EXHAUSTED: Concurrent RPC "
                           "limit", "MAX_CONCURRENT_RPCS"),
    # the replay case's big notes (19,000 characters), the note at the limits, and the forgetting case's
    "a_limit_of_its_own": (A_LIMIT_OF_ITS_OWN, {REPLAY, INVALID, FORGETS}, set(), "INVALID_ARGUMENT: too long",
                           "refuse only what problem_with_note(request) finds wrong"),
    # Racy: the crowd stalls only if a newcomer cancels while a note goes out to it (or fills its inbox first)
    "yields_under_the_lock": (YIELDS_UNDER_THE_LOCK, {REPLAY}, {AT_ONCE}, "a Post got no answer",
                              "yield inside `with self.lock`"),
    # a replay of 50 into an inbox of 5: Subscribe waits, lock held, for a reader that never comes; Posts then wait
    "bounded_inboxes": (BOUNDED_INBOXES, {REPLAY, INVALID}, {AT_ONCE}, "replay=50 got no join header",
                        "queue.Queue(maxsize=…)"),
    "inboxes_bounded_at_200": (wrong("inbox = queue.SimpleQueue()", "inbox = queue.Queue(maxsize=200)"), {REPLAY},
                               {AT_ONCE}, "got an answer, then one got none", "queue.Queue(maxsize=…)"),
    "inboxes_bounded_at_1000": (wrong("inbox = queue.SimpleQueue()", "inbox = queue.Queue(maxsize=1000)"),
                                {REPLAY}, {AT_ONCE}, "got an answer, then one got none", "queue.Queue(maxsize=…)"),
    "drops_what_does_not_fit": (DROPS_WHAT_DOES_NOT_FIT, {REPLAY}, {AT_ONCE}, "not the 1100 posted meanwhile",
                                "drops none"),
    # each wait on a thread of asyncio's default executor: a few threads, which cancelled subscribers may still hold
    # when the leaving case's newcomers come (on a busy machine)
    "aio_waits_on_asyncio_to_thread": (AIO_TO_THREAD, {ROOM}, {LEAVES}, "got nothing within 2 s, and its replay only "
                                       "once a note was posted", "asyncio's default executor"),
    "cuts_off_soon": (CUTS_OFF_SOON, {REPLAY}, {AT_ONCE}, "was cut off (RESOURCE_EXHAUSTED", "only far behind"),
    # a name in the join header: a subscriber named in ASCII joins, one named zoë cannot (metadata is ASCII)
    "the_name_in_the_join_header": (wrong(HEADER_LINE, '        context.send_initial_metadata((("joined-as", '
                                          'request.name),))  # the mistake: metadata is ASCII\n'), {FAN_OUT},
                                    set(), "a call ended INTERNAL: Invalid metadata", "ASCII text only"),
    # the replay too is put in as new notes (the answer's two inbox.put(note) lines): no sent_at anywhere
    "a_new_note_per_inbox": (wrong("                inbox.put(note)", "                inbox.put(chat_pb2.Note("
                                   "name=note.name, message=note.message, sequence=note.sequence))"),
                             {NUMBERED, REPLAY}, set(), "but with no sent_at", "A Note made anew"),
    # the poster's own subscriber hears nothing it posted: the fan-out's, and the replay case's
    "no_echo": (wrong(WAIT_IN_THE_INBOX + "\n            yield note", WAIT_IN_THE_INBOX + """
            if note.name != request.name:  # the mistake: "you know what you said"
                yield note"""), {FAN_OUT, REPLAY}, set(), "subscriber 'poster', named as the poster, got no note",
                "its own too"),
    # Racy in the fan-out (the poster's generator may change the note before or after the others send it); the
    # newcomer's replay after a poster read them shows it always
    "renames_the_poster_to_you": (wrong(WAIT_IN_THE_INBOX + "\n            yield note", WAIT_IN_THE_INBOX + """
            if note.name == request.name:  # the mistake: the one note object of every inbox, changed
                note.name = "you"
            yield note"""), {REPLAY}, {FAN_OUT}, "got the notes as 'you', 'you' wrote them",
                                  "one note object goes to every inbox"),
    # the long name (or message) quoted whole: RESOURCE_EXHAUSTED; the short notes' names (or messages): quoted
    "refusal_that_quotes_the_name": (QUOTES_THE_NAME, {INVALID, WORDS}, set(), "a 20,000-character name: got "
                                     "RESOURCE_EXHAUSTED", "Quote nothing of the note"),
    "refusal_that_quotes_the_message": (QUOTES_THE_MESSAGE, {INVALID, WORDS}, set(), "a 20,001-character message: "
                                        "got RESOURCE_EXHAUSTED", "Quote nothing of the note"),
    # each note kept (and numbered) twice: numbers skip, a replay shows a note twice; the crowd's newcomers may too
    "adds_each_note_twice": (wrong("note = self.history.add(request)", "self.history.add(request)\n"
                                   "            note = self.history.add(request)"), {NUMBERED, REPLAY, INVALID},
                             {AT_ONCE}, "three notes posted one after another were numbered", "once per Post"),
    # Racy: a stream ends at once, before or after the header and the replay cases look at it
    "leaves_as_it_joins": (LEAVES_AS_IT_JOINS, {FAN_OUT, NUMBERED, INVALID, AT_ONCE, ROOM, IDLE, LEAVES, FORGETS},
                           {HEADER, REPLAY}, "stream ended: Subscribe returned", "context.add_callback(leave())"),
}


@pytest.fixture
def check(tmp_path):
    return lambda source: check_server_cell(check_chat_server, source, tmp_path)


def test_skeleton_is_reported_as_not_done(check):
    result = check(skeleton(SOLUTION))
    assert result.passed == 0
    assert all("not done yet" in case.got for case in result.cases), repr(result)


@pytest.mark.usefixtures("short_idle_window")  # its whole 6 s: the solved notebook and the reference server's test
def test_answer_passes_every_rule(check):
    result = check(answer(SOLUTION))
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == list(RULES)


@pytest.mark.usefixtures("short_idle_window")
def test_answer_passes_when_given_an_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        result = check_chat_server(server.address)  # its PID, for the idle case, comes from the registry
    assert result.all_passed, repr(result)


def test_reference_server_passes(chat_server):
    result = check_chat_server(chat_server)  # grpc.aio: no thread pool; the idle case's whole window
    assert result.all_passed, repr(result)


def test_a_slow_poll_wakes_up_and_does_not_leave_at_once(check):
    result = check(polls(3.0))
    assert failed(result) == {IDLE, LEAVES}, repr(result)
    assert "with no timeout" in result[IDLE].hint and "add_callback" in result[LEAVES].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_a_subscriber_that_never_leaves_holds_its_thread_and_stays_in_the_room(check):
    result = check(NEVER_LEAVES)
    assert failed(result) == {LEAVES, FORGETS}, repr(result)
    assert "99 subscribers cancelled" in result[LEAVES].got, repr(result)  # 99: the pool but one
    assert "add_callback" in result[LEAVES].hint and "self.inboxes" in result[FORGETS].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window", "lenient_leaving")
def test_a_thread_per_subscriber_that_looks_whether_its_call_ended_wakes_up_and_leaves_late(check):
    result = check(WATCHES_EVERY_SECOND)
    # Its threads come back up to 1 s after the cancel: a busy machine may make that more than the lenient 1.5 s
    assert {IDLE, FORGETS} <= failed(result) <= {IDLE, FORGETS, LEAVES}, repr(result)
    assert "they left late" in result[FORGETS].got and "not on a poll" in result[FORGETS].hint, repr(result)
    assert all("context.add_callback(leave)" in result[label].hint for label in failed(result)), repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_a_header_sent_after_the_replay_is_told_that_it_comes_before_any_yield(check):
    result = check(REPLAY_THEN_HEADER)
    assert REPLAY in failed(result), repr(result)
    assert "Initial metadata no longer allowed" in result[REPLAY].got, repr(result)
    assert "send_initial_metadata comes before any yield" in result[REPLAY].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window", "quick_stalls")
def test_a_post_that_sleeps_is_told_it_is_slow_where_a_newcomer_waits_and_where_a_case_runs_late(check, monkeypatch):
    monkeypatch.setattr(chat, "CASE_DEADLINE", 4.0)  # the crowd's and the forgetting case's Posts run past any
    result = check(SLOW_POSTS)
    assert REPLAY in failed(result), repr(result)
    assert "Posts, one after another, took" in result[REPLAY].got, repr(result)
    # the cases that run past their deadline say why too; none blames a note handed out twice or to nobody
    assert all("each Post is slow: a time.sleep" in result[label].hint for label in failed(result)), repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_a_replay_newest_first_is_named_wherever_a_newcomer_shows_it(check):
    result = check(wrong("for note in self.history.last(request.replay):",
                         "for note in reversed(self.history.last(request.replay)):"))
    # The crowd's newcomers (replay=3) may show it too, with the same cause named.
    assert REPLAY in failed(result) and failed(result) <= {REPLAY, AT_ONCE}, repr(result)
    assert AT_ONCE not in failed(result) or "oldest first" in result[AT_ONCE].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_an_inbox_that_hands_out_the_newest_first_is_named_in_the_replay_case(check):
    result = check(wrong("inbox = queue.SimpleQueue()", "inbox = queue.LifoQueue()"))
    assert REPLAY in failed(result), repr(result)
    assert "queue.LifoQueue hands out the newest first" in result[REPLAY].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_a_post_that_answers_no_sequence_fails_only_the_numbering_rule(check):
    result = check(wrong("return chat_pb2.PostResponse(sequence=note.sequence)", "return chat_pb2.PostResponse()"))
    assert failed(result) == {NUMBERED}, repr(result)
    assert "answer its sequence" in result[NUMBERED].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window", "quick_stalls")
@pytest.mark.parametrize("mistake, must, named", [
    (ONE_SUBSCRIBER_HEARS, {FAN_OUT, AT_ONCE, ROOM, IDLE, LEAVES, FORGETS}, "every subscriber's inbox"),
    (ONE_SUBSCRIBER_LEFT_OUT, {FAN_OUT, NUMBERED, REPLAY, INVALID, AT_ONCE, ROOM, IDLE, LEAVES, FORGETS},
     "every subscriber's inbox"),
    (INBOX_ON_SELF, {FAN_OUT, AT_ONCE, ROOM, IDLE, LEAVES, FORGETS}, "own inbox in a local variable"),
], ids=["one_subscriber_hears", "one_subscriber_left_out", "inbox_on_self"])
def test_a_post_that_misses_subscribers_fails_fan_out(check, mistake, must, named):
    result = check(mistake)
    # Every case that fills a room, however small, needs a post that reaches all of its subscribers (with one left
    # out, a room of one hears nothing). The replay case has two at once ('no replay' joins the newcomer), then its
    # slow reader alone: with one left out it fails on one or the other (the set's order decides which); with one
    # heard, only when that is the newcomer. Either way it names the fan-out, never a replay sent before joining.
    # With one inbox on self, whichever subscriber takes a note first gets it: the others miss it, and the hint says
    # where the inbox belongs.
    # (With the inbox on self, a crowd's stream may end on another subscriber's None before any note shows missing:
    # the hint then says where that None belongs, "the inbox of the call that ended".)
    assert must <= failed(result) <= must | {REPLAY}, repr(result)
    assert all("every subscriber's inbox" in result[label].hint and named in result[label].hint
               or mistake is INBOX_ON_SELF and "into the inbox of the call that ended" in result[label].hint
               for label in failed(result)), repr(result)


@pytest.mark.usefixtures("short_idle_window")  # 50 spinning subscribers use seconds of CPU in any window
def test_a_busy_loop_is_named_as_the_cause_of_what_it_starves(check):
    result = check(BUSY_LOOP)
    # 50 spinning subscribers starve Posts too: whatever fails must blame the loop, never the fan-out
    assert IDLE in failed(result), repr(result)
    for label in failed(result):
        assert "busy loop" in result[label].hint and "every subscriber's inbox" not in result[label].hint, label


@pytest.mark.usefixtures("short_idle_window")
def test_a_pool_of_ten_cannot_hold_a_room_of_fifty_and_the_room_case_says_why(check):
    result = check(POOL_OF_TEN)
    # The idle case needs the 50 subscribers in the room too; the hint shows once, under the room's line.
    assert failed(result) == {ROOM, IDLE}, repr(result)
    assert all("MAX_WORKERS = 10" in result[label].hint for label in failed(result))
    shown = repr(result).splitlines()
    room_line = next(n for n, line in enumerate(shown) if ROOM in line)
    assert "MAX_WORKERS = 10" in shown[room_line + 1] and "did not fill" in result[IDLE].got, repr(result)


@pytest.mark.usefixtures("short_idle_window", "quick_stalls")
def test_a_subscribe_that_holds_the_lock_while_waiting_is_named_but_its_header_passes(check):
    result = check(HOLDS_THE_LOCK_WHILE_WAITING)
    assert HEADER not in failed(result) and {FAN_OUT, ROOM} <= failed(result), repr(result)
    assert "hold the lock while it waits" in result[FAN_OUT].hint, repr(result)
    vague = "does your method return (or yield) for this input"
    assert not any(vague in result[label].hint for label in failed(result)), repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_no_lock_at_all_is_caught_when_the_fan_out_lets_other_threads_in(check):
    assert "self.lock" not in NO_LOCK_AND_A_PRINT.split("def Subscribe")[1], "a lock is left in the wrong answer"
    result = check(NO_LOCK_AND_A_PRINT)
    # A join or leave during the fan-out changes the set under it; the other crowded cases may see it too.
    assert AT_ONCE in failed(result) and HEADER not in failed(result), repr(result)
    assert "Set changed size during iteration" in result[AT_ONCE].got, repr(result)
    assert "joined or left while Post went through self.inboxes" in result[AT_ONCE].hint, repr(result)
    assert "take self.lock in leave() and when joining too" in result[AT_ONCE].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window")
def test_a_replay_yielded_before_joining_misses_what_a_slow_reader_was_sent_meanwhile(check):
    result = check(REPLAY_BEFORE_JOINING)
    # the crowd's newcomers may show the same gap (a note lost while their replay went out): by nature, not always
    assert REPLAY in failed(result) and failed(result) <= {REPLAY, AT_ONCE}, repr(result)
    # the whole history's newcomer shows it first, or the slow reader does
    assert "join first" in result[REPLAY].hint, repr(result)
    assert "that read its replay slowly" in result[REPLAY].got or "but not 'and now'" in result[REPLAY].got


class _CutOff(grpc.RpcError):
    """What a subscriber's stream raises once the server cuts it off."""

    def code(self):
        return grpc.StatusCode.RESOURCE_EXHAUSTED

    def details(self):
        return "you fell behind; subscribe again"


class _ListenerCutOff:
    """A staying subscriber of the crowd case that hears one note, then is cut off (as a server that cuts readers
    off 100 notes behind did on a loaded CI: whether the crowd gets that far behind is up to the machine)."""
    name = "stays 1"

    def __init__(self):
        self.items = [chat_pb2.Note(name="poster", message="run poster 1 note 1", sequence=1), _CutOff()]

    def next_note(self, waiting_for: str):
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_a_subscriber_cut_off_among_the_crowd_is_told_it_was_cut_off_too_soon():
    with pytest.raises(Fail) as failure:
        chat_crowd.heard_until(_ListenerCutOff(), "run the end")
    assert "stays 1 was cut off (RESOURCE_EXHAUSTED: you fell behind" in failure.value.got
    assert "after 1 of the 200 notes" in failure.value.got
    assert "only far behind" in failure.value.hint


# asyncio.to_thread(inbox.get), and a leave that takes the inbox out but never wakes its wait: each cancelled
# subscriber keeps a thread of asyncio's default executor, for good
AIO_TO_THREAD_NEVER_WOKEN = AIO_TO_THREAD.replace(
    "            inbox.put(None)  # wakes the loop below, so it returns and frees its thread\n", "")


def test_a_cancelled_aio_subscriber_that_keeps_its_executor_thread_is_told_about_asyncio_s_executor(tmp_path):
    assert AIO_TO_THREAD_NEVER_WOKEN != AIO_TO_THREAD, "the answer changed; update this wrong answer"
    result = check_server_cell(check_chat_server, AIO_TO_THREAD_NEVER_WOKEN, tmp_path)
    assert LEAVES in failed(result), repr(result)
    assert "asyncio's default executor" in result[LEAVES].hint, repr(result)
    assert "worker thread" not in result[LEAVES].hint, repr(result)
