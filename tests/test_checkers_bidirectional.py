"""check_get_users_by_ids (Exercise 7.1): the skeleton is not done, each wrong answer breaks its one rule,
the answer and the reference server pass, whatever ran before."""
import textwrap

import pytest
from exercises import answer, assert_breaks_only, check_server_cell, failed, skeleton, write_cell, wrong

import server_runner
from workshop.checkers import bidirectional
from workshop.checkers.bidirectional import RULES, check_get_users_by_ids
from workshop.protos import users_pb2, users_pb2_grpc

SOLUTION = "07_1_get_users_by_ids.py"
PING_PONG, IN_ORDER, UNKNOWN_ID, BAD_ID, NO_IDS, TOGETHER, IDLE = RULES
REAL_IDLE_WINDOW = bidirectional.IDLE_WINDOW
ADDED = bidirectional.ADDED.id  # past 32 bits


@pytest.fixture(autouse=True)
def short_idle_window(monkeypatch):
    """The idle case watches twelve waiting conversations for 3 s. A wrong answer whose mistake is no poll only has to
    pass it, which a glance shows: 2.9 s less a check. The tests of the answer and of polls ask for real_idle_window."""
    monkeypatch.setattr(bidirectional, "IDLE_WINDOW", 0.1)


@pytest.fixture
def real_idle_window(monkeypatch):
    monkeypatch.setattr(bidirectional, "IDLE_WINDOW", REAL_IDLE_WINDOW)


def check(source, tmp_path):
    return check_server_cell(check_get_users_by_ids, source, tmp_path)


def with_method(method: str) -> str:
    """The answer's module with its GetUsersByIds written as `method`."""
    head, _, rest = answer(SOLUTION).partition("    def GetUsersByIds")
    _, _, tail = rest.partition("\n\n\n")
    return head + textwrap.indent(textwrap.dedent(method).strip("\n"), "    ") + "\n\n\n" + tail


def with_module_lock(method: str) -> str:
    """with_method, in a module that has LOCK, a threading.Lock shared by every call."""
    return with_method(method).replace("class UserManager", "LOCK = threading.Lock()\n\n\nclass UserManager").replace(
        "import grpc\n", "import threading\n\nimport grpc\n", 1)


def test_with_method_rewrites_only_the_method():
    source = answer(SOLUTION)
    assert with_method(source[source.index("    def GetUsersByIds"):source.index("\n\n\ndef add_to_server")]) == source


# The popular article's version: right answers, but only once the client's stream has ended.
COLLECTS_THEN_REPLIES = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        ids = [request.id for request in request_iterator]
        for user_id in ids:
            if problem := users.problem_with_id(user_id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(user_id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(user_id))
            yield users_pb2.UserResponse(user=user)
""")
ANSWERS_EACH_ID_ONCE = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        seen = set()
        for request in request_iterator:
            if request.id in seen:
                continue
            seen.add(request.id)
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
SKIPS_UNKNOWN_IDS = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            user = self.directory.get(request.id)
            if user is not None:
                yield users_pb2.UserResponse(user=user)
""")
ANSWERS_NOBODY = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            yield users_pb2.UserResponse(user=self.directory.get(request.id))  # None for an unknown id
""")
NOT_FOUND_WITHOUT_THE_ID = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "user not found")
            yield users_pb2.UserResponse(user=user)
""")
LOOKS_UP_ANY_ID = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
VAGUE_REFUSAL = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad id")
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
# Looks the user up first, then refuses the id anyway: what the client sees is the same as the answer's.
LOOKS_UP_THEN_REFUSES = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            user = self.directory.get(request.id)
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
NOT_FOUND_BEFORE_THE_ID_CHECK = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            user = self.directory.get(request.id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            yield users_pb2.UserResponse(user=user)
""")
REFUSES_AN_EMPTY_STREAM = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        answered = 0
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            answered += 1
            yield users_pb2.UserResponse(user=user)
        if not answered:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "send at least one id")
""")
YIELDS_USERS = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            yield self.directory.get(request.id) or users_pb2.User()
""")
SWALLOWS_THE_ABORT = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            try:
                if problem := users.problem_with_id(request.id):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
                if (user := self.directory.get(request.id)) is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            except Exception:  # "skip the bad ones": it catches the exception abort raises to end the call
                continue
            yield users_pb2.UserResponse(user=user)
""")
ANSWERS_THE_FIRST_ID_ONLY = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
            return
""")
# "One reader at a time": the lock is held while the method waits for this client's next id.
LOCKS_WHILE_IT_READS = with_module_lock("""
    def GetUsersByIds(self, request_iterator, context):
        while True:
            with LOCK:
                request = next(request_iterator, None)
            if request is None:
                return
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
# Right for one client; a second call's request_iterator replaces the first one's on the shared servicer.
KEEPS_THE_REQUESTS_ON_SELF = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        self.requests = request_iterator  # "so helper methods can read them too"
        while (request := next(self.requests, None)) is not None:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
# Finds the seeded users (it reads the same seed file), but not those the server's AddUser stored.
A_DIRECTORY_PER_LOOKUP = wrong(SOLUTION, "self.directory.get(request.id)", "users.UserDirectory().get(request.id)")
BREAKS_AT_A_WRONG_ID = wrong(SOLUTION, "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)", "break")
DROPS_THE_FIRST_ID = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        if next(request_iterator, None) is None:  # "no ids: nothing to do"; but it reads the first one
            return
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
# "Answer each id once": the set is on self, so an id answered in one call is skipped in every later one.
REMEMBERS_IDS_ON_SELF = with_method("""
    def __init__(self, directory):
        super().__init__(directory)
        self.seen = set()

    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if request.id in self.seen:
                continue
            self.seen.add(request.id)
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")


def with_module_semaphore(slots: int) -> str:
    """The answer's loop inside `with SLOTS:`, a module-level BoundedSemaphore(slots): "at most so many at once"."""
    return with_method("""
    def GetUsersByIds(self, request_iterator, context):
        with SLOTS:
            for request in request_iterator:
                if problem := users.problem_with_id(request.id):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
                if (user := self.directory.get(request.id)) is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
                yield users_pb2.UserResponse(user=user)
""").replace("class UserManager", f"SLOTS = threading.BoundedSemaphore({slots})\n\n\nclass UserManager").replace(
        "import grpc\n", "import threading\n\nimport grpc\n", 1)


# "At most 1000 ids per call", counted on self: a second call resets the first's count, then both add to it.
COUNTS_IDS_ON_SELF = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        self.answered = 0
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            self.answered += 1
            if self.answered > 1000:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "at most 1000 ids per call")
            yield users_pb2.UserResponse(user=user)
""")


def sleeps_before_each_answer(seconds: float) -> str:
    """The answer with a throttle: a sleep of `seconds` before each yield."""
    return wrong(SOLUTION, "            yield users_pb2.UserResponse(user=user)",
                 f"            time.sleep({seconds})  # throttle\n"
                 "            yield users_pb2.UserResponse(user=user)").replace(
        "import grpc\n", "import time\n\nimport grpc\n", 1)


SLEEPS_BEFORE_EACH_ANSWER = sleeps_before_each_answer(0.1)
REFERENCE = "from workshop.servers.users import add_to_server\n"
# "Ids must fit a 32-bit int": but they are int64, and AddUser stores the checker's nora past 2**32.
INT32_BOUND = wrong(SOLUTION, "if problem := users.problem_with_id(request.id):",
                    "if problem := users.problem_with_id(request.id) or (request.id > 2**31 - 1 and 'id too large'):")
DEADLINE_GUARD = wrong(SOLUTION, "            if problem := users.problem_with_id(request.id):",
                       "            remaining = context.time_remaining()\n"
                       "            if remaining is not None and remaining < 0.5:  # \"no time left to answer well\"\n"
                       "                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, 'too little time left')\n"
                       "            if problem := users.problem_with_id(request.id):")
# "be gentle with the directory": 20 ms a lookup, which only a comparison with the kit's own server, timed alongside,
# tells from a loaded machine
THROTTLED = sleeps_before_each_answer(0.02)
# The answer's loop over request_iterator, as solutions/ has it, for wrong answers that only wrap it
ANSWER_LOOP = textwrap.dedent(answer(SOLUTION).partition("    def GetUsersByIds(self, request_iterator, context):\n")[2]
                              .partition("\n\n\n")[0])


def locked_around_the_loop(take: str, release: str) -> str:
    """with_module_lock, where the method runs `take`, then the answer's loop in a try whose finally runs `release`."""
    def block(code: str, depth: int) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), " " * depth)

    return with_module_lock(f"""
    def GetUsersByIds(self, request_iterator, context):
{block(take, 8)}
        try:
{block(ANSWER_LOOP, 12)}
        finally:
{block(release, 12)}
""")


# "one conversation at a time, but never block anyone for long": the next one waits out the timeout
LOCK_WITH_A_TIMEOUT = locked_around_the_loop("got = LOCK.acquire(timeout=0.5)", """
    if got:
        LOCK.release()""")
# "fail fast, as the notebook advises": the next client is refused while one conversation waits
REFUSES_WHEN_BUSY = locked_around_the_loop("""
    if not LOCK.acquire(blocking=False):
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy with another stream, try again")""",
                                           "LOCK.release()")


def with_setting(line: str) -> str:
    """The answer with a module setting of the runner's (MAX_WORKERS, OPTIONS, ...) above its class."""
    return wrong(SOLUTION, "\n\nclass UserManager", f"\n{line}\n\n\nclass UserManager")
# "Read what the client still sends, so it is not cut off": but a ping-pong client waits for the answer first.
DRAIN = "for _ in request_iterator:  # read the rest first\n                    pass\n                "
DRAINS_BEFORE_NOT_FOUND = wrong(SOLUTION, "context.abort(grpc.StatusCode.NOT_FOUND",
                                DRAIN + "context.abort(grpc.StatusCode.NOT_FOUND")
DRAINS_BEFORE_INVALID = wrong(SOLUTION, "context.abort(grpc.StatusCode.INVALID_ARGUMENT",
                              DRAIN + "context.abort(grpc.StatusCode.INVALID_ARGUMENT")
PARTIAL_COPY = wrong(SOLUTION, "yield users_pb2.UserResponse(user=user)",
                     "yield users_pb2.UserResponse(user=users_pb2.User(id=user.id, nickname=user.nickname, "
                     "user_type=user.user_type))  # no mail addresses on the wire")
SKIPS_A_REPEATED_ID = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        previous = None
        for request in request_iterator:
            if request.id == previous:  # "a client that resends the same id by mistake gets one answer"
                continue
            previous = request.id
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
# The requests read on a thread of their own into an inbox, which the method then looks into again and again.
PUMPED = """
    def GetUsersByIds(self, request_iterator, context):
        inbox = queue.SimpleQueue()
        threading.Thread(target=lambda: [*map(inbox.put, request_iterator), inbox.put(None)], daemon=True).start()
        while True:
{look}
            if request is None:
                return
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
"""


def pumped(look: str) -> str:
    return with_method(PUMPED.replace("{look}", textwrap.indent(textwrap.dedent(look).strip("\n"), " " * 12))).replace(
        "import grpc\n", "import queue\nimport threading\nimport time\n\nimport grpc\n", 1)


POLLS = {
    "a busy loop": pumped("""
        if inbox.empty():
            continue
        request = inbox.get()"""),
    "a poll every second": pumped("""
        try:
            request = inbox.get(timeout=1.0)
        except queue.Empty:
            continue"""),
}


WRONG_ANSWERS = {  # the mistake: (the module, the one rule it breaks, what the ✗ line and its hint say)
    "collecting every id before answering (the article's version)":
        (COLLECTS_THEN_REPLIES, PING_PONG,
         ["no answer to id 21 within 2 s, while the client waited for it before sending the next id",
          "do not collect every request before answering"]),
    "answering a repeated id only once":
        (ANSWERS_EACH_ID_ONCE, IN_ORDER,
         ["got hugo, carmen, ines, then the stream ended OK; expected hugo, carmen, ines, carmen"]),
    "skipping an unknown id instead of NOT_FOUND":
        (SKIPS_UNKNOWN_IDS, UNKNOWN_ID,
         ["got hugo, ines, then the stream ended OK; expected hugo, then NOT_FOUND naming 4242"]),
    "answering an unknown id with UserResponse(user=None)":
        (ANSWERS_NOBODY, UNKNOWN_ID, ["1 of the 3 answers carried no user", "end the stream with NOT_FOUND"]),
    "a NOT_FOUND that does not name the id":
        (NOT_FOUND_WITHOUT_THE_ID, UNKNOWN_ID, ["NOT_FOUND said 'user not found', which does not name the id",
                                                "users.no_user_with(4242)"]),
    "looking up id 0 instead of refusing it (finds the planted user)":
        (LOOKS_UP_ANY_ID, BAD_ID,
         ["ids 8, 0, 21 → got hugo, zero, ines, then the stream ended OK; expected hugo, then INVALID_ARGUMENT",
          "users.problem_with_id"]),
    "NOT_FOUND for an id below 1 that nobody has (the id checked after the lookup fails)":
        (NOT_FOUND_BEFORE_THE_ID_CHECK, BAD_ID,
         ["ids -5 → got no answers, then NOT_FOUND: no user has id -5; expected INVALID_ARGUMENT"]),
    "an INVALID_ARGUMENT that does not name the id":
        (VAGUE_REFUSAL, BAD_ID, ["id 0 → INVALID_ARGUMENT said 'bad id', which does not name the id",
                                 "as users.problem_with_id(request.id) does"]),
    "refusing a client that sends no ids":
        (REFUSES_AN_EMPTY_STREAM, NO_IDS,
         ["no ids → 0 answers, then INVALID_ARGUMENT: send at least one id; expected no answers"]),
    "a lock held across the loop":
        (with_module_lock("""
    def GetUsersByIds(self, request_iterator, context):
        with LOCK:  # "one conversation at a time": the next one waits while this client thinks
            for request in request_iterator:
                if problem := users.problem_with_id(request.id):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
                if (user := self.directory.get(request.id)) is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
                yield users_pb2.UserResponse(user=user)
"""),
         TOGETHER, ["another's id 3 got no answer", "hold no lock while you wait"]),
    "a lock held across the yield, inside the loop":
        (with_module_lock("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            with LOCK:  # "one lookup at a time": released once the answer is sent, which waits for the client
                if problem := users.problem_with_id(request.id):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
                if (user := self.directory.get(request.id)) is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
                yield users_pb2.UserResponse(user=user)
"""),
         TOGETHER, ["while a conversation's answer (ines) waited for its client to read it, another conversation's "
                    "id 3 got no answer", "across the yield either"]),
    "the current request kept on self":
        (with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for self.request in request_iterator:  # "at hand for a helper method"
            if problem := users.problem_with_id(self.request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(self.request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(self.request.id))
            yield users_pb2.UserResponse(user=user)
"""), IN_ORDER, ["8 conversations at once, 600 ids each: conversation", "not on self (self.request)"]),
    "an empty answer of its own when no ids came":
        (with_method("""
    def GetUsersByIds(self, request_iterator, context):
        answered = False
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            answered = True
            yield users_pb2.UserResponse(user=user)
        if not answered:
            yield users_pb2.UserResponse()  # "say something"
"""), NO_IDS, ["no ids → 1 answer, then the stream ended OK", "yield nothing of your own"]),
    "a wrong id skipped":
        (with_method("""
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            if users.problem_with_id(request.id):
                continue  # "ignore ids that cannot be users"
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
"""), BAD_ID, ["ids 8, 0, 21 → got hugo, ines, then the stream ended OK", "not `continue`"]),
    "a lock held while waiting for the next id, released before answering":
        (LOCKS_WHILE_IT_READS, TOGETHER, ["another's id 3 got no answer within 2 s", "hold no lock while you wait"]),
    "the request iterator kept on self":
        (KEEPS_THE_REQUESTS_ON_SELF, IN_ORDER,
         ["two conversations taking turns (first 21 → ines, second 3 → carmen, first 8 → hugo, first 3 → no answer "
          "within 2 s); expected carmen", "not on self (self.requests = request_iterator"]),
    "a new directory for each lookup":
        (A_DIRECTORY_PER_LOOKUP, UNKNOWN_ID,
         [f"AddUser stored nora (id {ADDED}), then id {ADDED} → got no answers, then NOT_FOUND: no user has id "
          f"{ADDED}; expected nora",
          "look users up in self.directory, the directory AddUser writes to"]),
    "the context kept on self, its abort made on another call":
        (with_method("""
    def GetUsersByIds(self, request_iterator, context):
        self.context = context  # "handy in the helpers": but the next call replaces it
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                self.context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                self.context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
"""), IN_ORDER, ["first 4242 → UNKNOWN", "self.context = context"]),
    "answers kept on self across calls":
        (with_method("""
    def GetUsersByIds(self, request_iterator, context):
        known = self.__dict__.setdefault("known", {})  # "a cache saves the directory work"
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if request.id not in known:
                known[request.id] = self.directory.get(request.id)
            if (user := known[request.id]) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
"""), UNKNOWN_ID, [f"AddUser stored nora (id {ADDED}), then id {ADDED} → got no answers, then NOT_FOUND",
                       "a cache on self"]),
    "a wrong id refused in a missing user's words":
        (wrong(SOLUTION, "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)",
               "context.abort(grpc.StatusCode.INVALID_ARGUMENT, users.no_user_with(request.id))"),
         BAD_ID, ["INVALID_ARGUMENT said 'no user has id 0', as if nobody had it", "what is wrong with it"]),
    "a semaphore of 16 held across the loop":
        (with_module_semaphore(16), TOGETHER,
         ["while 16 conversations waited for their clients' next id, each answered at once, conversation 17's id 3 got "
          "no answer within 2 s", "hold no semaphore", "MAX_WORKERS"]),
    "a semaphore of 25 held across the loop":
        (with_module_semaphore(25), TOGETHER,
         ["while 25 conversations waited", "conversation 26's id 3 got no answer", "hold no semaphore"]),
    "a count of ids kept on self, limited per call":
        (COUNTS_IDS_ON_SELF, IN_ORDER,
         ["two conversations at once, 600 ids each, sent 100 at a time in turns: the",
          "got 500 answers, then RESOURCE_EXHAUSTED: at most 1000 ids per call; expected 600 answers each",
          "keep what belongs to one call (a count of its ids, say) in local variables, not on self"]),
    "a sleep before each answer":
        (SLEEPS_BEFORE_EACH_ANSWER, PING_PONG,
         ["the answers came 0.1", "s after their ids, where the kit's own GetUsersByIds, timed alongside",
          "(medians of 11 round trips, one id at a time)", "No time.sleep (a throttle) or slow work"]),
    "a throttle of 20 ms before each answer":
        (THROTTLED, PING_PONG, ["the answers came 0.02", "(medians of 11 round trips", "No time.sleep (a throttle)"]),
    "a pool of 2 threads (the article's)":
        (with_setting("MAX_WORKERS = 2"), TOGETHER,
         ["while 2 conversations waited for their clients' next id, each answered at once, conversation 3's id 3 got "
          "no answer within 2 s", "your server has 2 worker threads (MAX_WORKERS = 2)", "leave MAX_WORKERS out"]),
    "a lock taken with a timeout across the loop":
        (LOCK_WITH_A_TIMEOUT, TOGETHER,
         ["the 5 opened after it, one by one, got their first answers 0.5", "not even one taken with a timeout"]),
    "a refusal while another conversation is open":
        (REFUSES_WHEN_BUSY, TOGETHER,
         ["another's id 3 → RESOURCE_EXHAUSTED: busy with another stream", "do not refuse a call because others "
          "are open"]),
    "a cap of 10 streams per connection":
        (with_setting('OPTIONS = [("grpc.max_concurrent_streams", 10)]'), TOGETHER,
         ["conversation 11's id 3 got no answer within 2 s", "grpc.max_concurrent_streams in your module's OPTIONS"]),
    "a cap of 10 calls at once":
        (with_setting("MAX_CONCURRENT_RPCS = 10"), TOGETHER,
         ["conversation 11's id 3 → RESOURCE_EXHAUSTED", "Leave MAX_CONCURRENT_RPCS out"]),
    "a bound of 32 bits on the id":
        (INT32_BOUND, UNKNOWN_ID, [f"then id {ADDED} → got no answers, then INVALID_ARGUMENT: id too large",
                                   "ids are int64"]),
    "a refusal when less than half a second is left":
        (DEADLINE_GUARD, IN_ORDER, ["ids 8, 3 in a call, with a deadline of 0.4 s → DEADLINE_EXCEEDED",
                                    "('too little time left')", "context.time_remaining()"]),
    "the rest of the requests read before NOT_FOUND":
        (DRAINS_BEFORE_NOT_FOUND, UNKNOWN_ID, ["ids 8, then 4242, one at a time (the client waits for each answer) "
                                               "→ got hugo, then no answer within 2 s; expected NOT_FOUND at once",
                                               "context.abort at once"]),
    "the rest of the requests read before INVALID_ARGUMENT":
        (DRAINS_BEFORE_INVALID, BAD_ID, ["ids 8, then 0, one at a time", "expected INVALID_ARGUMENT at once",
                                         "context.abort at once"]),
    "a copy of the user without its mail address":
        (PARTIAL_COPY, PING_PONG, ["id 21 → ines, but with mail_address '', where the directory has "
                                   "'ines@example.com'", "yield the user the directory found, whole"]),
    "an id equal to the one before it skipped":
        (SKIPS_A_REPEATED_ID, IN_ORDER, ["two conversations at once, 600 ids each",
                                         "every id gets its own answer, a repeated one too"]),
    "a break at a wrong id instead of INVALID_ARGUMENT":
        (BREAKS_AT_A_WRONG_ID, BAD_ID,
         ["ids 8, 0, 21 → got hugo, then the stream ended OK; expected hugo, then INVALID_ARGUMENT",
          "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem), not with `break` or `return`"]),
}


def test_each_id_answered_twice_is_named(tmp_path):
    answer_line = "            yield users_pb2.UserResponse(user=user)"
    twice = wrong(SOLUTION, answer_line, f"{answer_line}\n{answer_line}")
    result = check(twice, tmp_path)
    assert {IN_ORDER, UNKNOWN_ID} <= failed(result), repr(result)
    assert all("each id got two" in result[rule].hint for rule in (IN_ORDER, UNKNOWN_ID)), repr(result)


def test_a_lock_that_an_abort_leaves_taken_is_told_what_holds_the_next_call(tmp_path):
    leaks = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        LOCK.acquire()
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
        LOCK.release()  # the mistake: an abort raises, so this line never runs
""").replace("class UserManager", "LOCK = threading.Lock()\n\n\nclass UserManager").replace(
        "import grpc\n", "import threading\n\nimport grpc\n", 1)
    result = check(leaks, tmp_path)
    stuck = [case for case in result.cases if "no answer within" in case.got]
    assert stuck and all("still held by an earlier call" in case.hint for case in stuck), repr(result)


@pytest.mark.usefixtures("real_idle_window")
@pytest.mark.parametrize("mistake", POLLS)
def test_a_conversation_that_waits_by_looking_again_and_again_fails_only_the_idle_case(mistake, tmp_path):
    result = check(POLLS[mistake], tmp_path)
    assert failed(result) == {IDLE}, repr(result)
    assert "woke up" in result[IDLE].got or "of CPU" in result[IDLE].got, repr(result)
    assert "for request in request_iterator" in result[IDLE].hint, repr(result)


@pytest.mark.usefixtures("real_idle_window")
def test_a_pumped_inbox_read_with_a_blocking_get_passes(tmp_path):
    """The same thread and inbox, read with get(): it sleeps until an id comes, so nothing polls."""
    result = check(pumped("request = inbox.get()"), tmp_path)
    assert result.all_passed, repr(result)


@pytest.mark.parametrize("mistake", WRONG_ANSWERS)
def test_a_wrong_answer_breaks_only_its_rule_and_the_hint_says_why(mistake, tmp_path):
    source, rule, shown = WRONG_ANSWERS[mistake]
    assert_breaks_only(check(source, tmp_path), rule, shown)


def test_an_abort_caught_by_try_except_is_named_where_the_stream_goes_on(tmp_path):
    result = check(SWALLOWS_THE_ABORT, tmp_path)
    # The swallowed abort's status wins in the end, but the id after the wrong one is answered first
    assert failed(result) == {UNKNOWN_ID, BAD_ID}, repr(result)
    assert "got hugo, ines, then NOT_FOUND" in result[UNKNOWN_ID].got, repr(result)
    assert "got hugo, ines, then INVALID_ARGUMENT" in result[BAD_ID].got, repr(result)
    assert all("no try/except around it" in result[rule].hint for rule in (UNKNOWN_ID, BAD_ID)), repr(result)


def test_a_return_after_the_first_answer_is_told_to_keep_looping(tmp_path):
    result = check(ANSWERS_THE_FIRST_ID_ONLY, tmp_path)
    assert failed(result) == {PING_PONG, IN_ORDER, UNKNOWN_ID, BAD_ID}, repr(result)
    assert all("keep looping over request_iterator" in result[rule].hint for rule in failed(result)), repr(result)


def test_a_first_id_read_before_the_loop_is_told_it_is_dropped(tmp_path):
    result = check(DROPS_THE_FIRST_ID, tmp_path)
    assert failed(result) == {PING_PONG, IN_ORDER, UNKNOWN_ID, BAD_ID}, repr(result)
    assert "no answer to id 21 within 2 s" in result[PING_PONG].got, repr(result)
    assert "got carmen, ines, carmen, then the stream ended OK" in result[IN_ORDER].got, repr(result)
    assert all("reads the first request before the loop" in result[rule].hint for rule in failed(result)), repr(result)
    assert "collect every request" not in repr(result)


def test_ids_remembered_on_self_across_calls_are_told_so(tmp_path):
    result = check(REMEMBERS_IDS_ON_SELF, tmp_path)
    # the ping-pong case asks 21 and 3 first, so later calls skip them (and 8 once it was answered)
    assert failed(result) == {IN_ORDER, UNKNOWN_ID, BAD_ID}, repr(result)
    assert "got hugo, then the stream ended OK" in result[IN_ORDER].got, repr(result)
    assert all("keep no record of answered ids on self" in result[rule].hint for rule in failed(result)), repr(result)
    assert "keep looping" not in repr(result) and "answer each id as it comes" not in repr(result)


def test_looking_up_before_refusing_passes_because_the_client_cannot_tell(tmp_path):
    result = check(LOOKS_UP_THEN_REFUSES, tmp_path)
    assert result.all_passed, repr(result)


def test_shipped_skeleton_is_reported_not_done_yet(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0, repr(result)
    assert all("not done yet" in case.got for case in result.cases), repr(result)


def test_yielding_users_instead_of_responses_is_reported(tmp_path):
    result = check(YIELDS_USERS, tmp_path)
    assert {PING_PONG, IN_ORDER} <= failed(result), repr(result)
    assert "the answer carried no user" in result[PING_PONG].got, repr(result)
    assert "4 of the 4 answers carried no user" in result[IN_ORDER].got, repr(result)
    assert "inside a UserResponse" in repr(result)


@pytest.mark.usefixtures("real_idle_window")
def test_answer_passes_every_rule_and_again_after_its_server_was_used(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        first = check_get_users_by_ids(server)
        with server.channel() as channel:  # what a learner might do in between: it must not matter
            users_pb2_grpc.UserManagerStub(channel).AddUser(users_pb2.User(
                id=4242, nickname="zoe", mail_address="zoe@example.com", user_type=users_pb2.USER_TYPE_NORMAL),
                timeout=5)
        second = check_get_users_by_ids(server)
    assert first.all_passed, repr(first)
    assert repr(first) == repr(second)
    assert "Traceback" not in repr(first)


@pytest.mark.usefixtures("real_idle_window")
def test_reference_server_passes_the_same_rules(tmp_path):
    result = check(REFERENCE, tmp_path)
    assert result.all_passed, repr(result)


def test_stopped_server_is_reported_as_not_running(tmp_path):
    server = server_runner.start(str(write_cell(answer(SOLUTION), tmp_path)))
    server.stop()
    result = check_get_users_by_ids(server)
    assert result.passed == 0, repr(result)
    assert all(case.got == "your server is not running" for case in result.cases), repr(result)


def test_a_yield_after_the_loop_is_told_only_the_last_id_is_answered(tmp_path):
    last_only = with_method("""
    def GetUsersByIds(self, request_iterator, context):
        user = None
        for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
        if user is not None:  # the mistake: after the loop, this runs once
            yield users_pb2.UserResponse(user=user)
""")
    result = check(last_only, tmp_path)
    assert IN_ORDER in failed(result), repr(result)
    assert "only the last id of a call gets an answer" in result[IN_ORDER].hint, repr(result)


def test_an_async_def_on_the_server_of_threads_is_named(tmp_path):
    async_def = with_method("""
    async def GetUsersByIds(self, request_iterator, context):
        async for request in request_iterator:
            if problem := users.problem_with_id(request.id):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            if (user := self.directory.get(request.id)) is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
            yield users_pb2.UserResponse(user=user)
""")
    result = check(async_def, tmp_path)
    assert PING_PONG in failed(result), repr(result)
    assert "'async_generator' object is not an iterator" in result[PING_PONG].got, repr(result)
    assert "your method is an `async def`" in result[PING_PONG].hint, repr(result)
    assert "not `return` of a list" not in repr(result)


def test_request_iterators_kept_by_peer_on_self_are_not_told_of_a_semaphore(tmp_path):
    """Every conversation over one channel has the same peer, so a second call's iterator replaces the first's."""
    by_peer = with_method("""
    def __init__(self, directory):
        super().__init__(directory)
        self.streams = {}  # "so a monitoring page can list open streams"

    def GetUsersByIds(self, request_iterator, context):
        peer = context.peer()
        self.streams[peer] = request_iterator
        try:
            while (request := next(self.streams[peer], None)) is not None:
                if problem := users.problem_with_id(request.id):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
                if (user := self.directory.get(request.id)) is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
                yield users_pb2.UserResponse(user=user)
        finally:
            self.streams.pop(peer, None)
""")
    result = check(by_peer, tmp_path)
    assert IN_ORDER in failed(result), repr(result)
    assert "not on self" in result[IN_ORDER].hint, repr(result)
    assert "hold no semaphore" not in repr(result)
