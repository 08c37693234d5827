"""check_count_already_users (6.1): each rule broken on its own by one wrong answer, hints that name the
cause (an answer inside the loop, a stop at an unknown id, a set kept between calls), and the answer passes."""
import pytest
from exercises import answer, check_server_cell, failed, reference_with, skeleton, write_cell, wrong, wrong_in_places

import server_runner
from workshop.checkers import client_streaming
from workshop.checkers.client_streaming import RULES, check_count_already_users
from workshop.protos import users_pb2, users_pb2_grpc

SOLUTION = "06_1_count_already_users.py"
COUNTS, DISTINCT, UNKNOWN, BELOW_ONE, EMPTY, WAITS, OWN_IDS, ASKS_AGAIN, LARGE = (rule for rule, *_ in RULES)
REAL_PAUSE = client_streaming.PAUSE


@pytest.fixture(autouse=True)
def short_pause(monkeypatch):
    """The long stream's case pauses for PAUSE s (6) before its last ids. A wrong answer that takes a quiet client
    for one that is done only needs a pause longer than its quiet, and than the server takes to read the 10,000 ids
    sent before it (a CI run under load saw a 0.5 s quiet missed in a pause of 1 s): 2 s here. The tests of quiet
    timeouts of 2 s and 5 s, and of the answer, ask for real_pause."""
    monkeypatch.setattr(client_streaming, "PAUSE", 2.0)


@pytest.fixture
def real_pause(monkeypatch):
    monkeypatch.setattr(client_streaming, "PAUSE", REAL_PAUSE)


def check(source, tmp_path):
    return check_server_cell(check_count_already_users, source, tmp_path)


def learners_module(method: str) -> str:
    """The reference service with `method` written anew; a module-level SEEN = set() and a LOCK are there for it
    to misuse."""
    return reference_with(method).replace("class MyUserManager", "import collections\nimport ctypes\n\nSEEN = set()\n"
                                          "LOCK = threading.Lock()\nBY_PEER = {}\n\n\nclass MyUserManager")


# A reader thread fills a queue; the method stops at the first quiet moment longer than `seconds`.
ANSWERS_AFTER_QUIET = '''
    def CountAlreadyUsers(self, request_iterator, context):
        found, arrived = set(), queue.Queue()
        threading.Thread(target=lambda: [arrived.put(r) for r in request_iterator] + [arrived.put(None)],
                         daemon=True).start()
        while True:
            try:
                request = arrived.get(timeout={seconds})  # the mistake: a quiet client taken for one that is done
            except queue.Empty:
                break
            if request is None:
                break
            if self.directory.get(request.id):
                found.add(request.id)
        return users_pb2.UserCountResponse(count=len(found))
'''


# "Answer while we still can": the loop breaks once less than a second of the deadline is left.
ANSWERS_EARLY_NEAR_THE_DEADLINE = '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    found.add(request.id)
                remaining = context.time_remaining()
                if remaining is not None and remaining < 1.0:
                    break  # "answer while we still can"
            return users_pb2.UserCountResponse(count=len(found))
    '''
# Distinct nicknames counted, not ids (the mail addresses' wrong answer is made from it): two users may share one
DISTINCT_NICKNAMES = '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                user = self.directory.get(request.id)
                if user is not None:
                    found.add(user.nickname.casefold())
            return users_pb2.UserCountResponse(count=len(found))
    '''


WRONG = {  # the rule each breaks, the mistake, and a word its hint must hold
    # (an id of 0 or below is an unknown id too, and so is 77 before it is added: a mistake with every unknown id
    # breaks those rules as well)
    "counts a repeated id again": ((DISTINCT, WAITS), '''
        def CountAlreadyUsers(self, request_iterator, context):
            count = sum(1 for request in request_iterator if self.directory.get(request.id))
            return users_pb2.UserCountResponse(count=count)
    ''', "set"),
    "counts unknown ids": ((UNKNOWN, BELOW_ONE, WAITS, ASKS_AGAIN, LARGE), '''
        def CountAlreadyUsers(self, request_iterator, context):
            return users_pb2.UserCountResponse(count=len({request.id for request in request_iterator}))
    ''', "finds a user"),
    "aborts at an unknown id": ((UNKNOWN, BELOW_ONE, WAITS, ASKS_AGAIN, LARGE), '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if self.directory.get(request.id) is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))
                found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "found a user"),
    "refuses an id of 0 or below, as GetUser does": (BELOW_ONE, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if problem := users.problem_with_id(request.id):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
                if self.directory.get(request.id) is not None:
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "counts an id of 0 or below as no user"),
    "refuses a stream that found nobody": ((EMPTY, UNKNOWN, BELOW_ONE), '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = {request.id for request in request_iterator if self.directory.get(request.id)}
            if not found:
                context.abort(grpc.StatusCode.NOT_FOUND, "none of these ids is a user")
            return users_pb2.UserCountResponse(count=len(found))
    ''', "count=0"),
    "reads only the first four ids (as many as the short streams have)": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for _, request in zip(range(4), request_iterator):
                if self.directory.get(request.id):
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "until request_iterator ends"),
    "answers when the client pauses": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            def read():
                for request in request_iterator:
                    if self.directory.get(request.id):
                        found.add(request.id)
            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            reader.join(0.15)  # the mistake: a quiet client is taken for a client that is done
            return users_pb2.UserCountResponse(count=len(found))
    ''', "until request_iterator ends"),
    "stops reading on a timer": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            started, found = time.monotonic(), set()
            for request in request_iterator:
                if self.directory.get(request.id):
                    found.add(request.id)
                if time.monotonic() - started > 0.2:  # "long enough": a paused client is taken for done
                    break
            return users_pb2.UserCountResponse(count=len(found))
    ''', "until request_iterator ends"),
    "answers after half a second of quiet": (WAITS, ANSWERS_AFTER_QUIET.format(seconds=0.5),
                                              "until request_iterator ends"),
    "stops reading after 1,000 ids": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for number, request in enumerate(request_iterator):
                if number >= 1000:  # "no client needs more than 1,000 ids"
                    break
                if self.directory.get(request.id) is not None:
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "not after a number of ids"),
    "keeps each call's set in a dict keyed by id(context), never removed": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = self.__dict__.setdefault("sets", {}).setdefault(id(context), set())  # ids of objects are reused
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "id(context) and the like are reused by later calls"),
    "remembers the ids found missing, and never asks for them again": (ASKS_AGAIN, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if request.id in SEEN:  # here: the ids nobody had, "no need to ask again"
                    continue
                if self.directory.get(request.id) is None:
                    SEEN.add(request.id)
                else:
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "misses whoever was added since"),
    "keeps the set on self, made safe by a lock held for the whole call": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            with LOCK:  # "no two calls touch self.found at once": so each waits for the other to end
                self.found = set()
                for request in request_iterator:
                    if self.directory.get(request.id):
                        self.found.add(request.id)
                return users_pb2.UserCountResponse(count=len(self.found))
    ''', "one call waited for the other to end"),
    "empties a module-level set at each call": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            SEEN.clear()  # "a fresh count": but another call at the same time counts into it too
            for request in request_iterator:
                if self.directory.get(request.id):
                    SEEN.add(request.id)
            return users_pb2.UserCountResponse(count=len(SEEN))
    ''', "shared by calls that run at the same time, even one emptied"),
    "keeps the set on self, made anew at each call": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            self.found = set()  # one servicer serves every call: a second call replaces the first's set
            for request in request_iterator:
                if self.directory.get(request.id):
                    self.found.add(request.id)
            return users_pb2.UserCountResponse(count=len(self.found))
    ''', "shared by calls that run at the same time"),
    "reads the first id before the loop and never counts it": ((COUNTS, UNKNOWN, BELOW_ONE, OWN_IDS,
                                                                ASKS_AGAIN, LARGE), '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            first = next(request_iterator, None)  # "peek at the first": the loop below never sees it
            for request in request_iterator:
                if self.directory.get(request.id):
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "the first too"),
    "counts the ids nobody has": ((COUNTS, DISTINCT, UNKNOWN, BELOW_ONE, WAITS, OWN_IDS, ASKS_AGAIN, LARGE), '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if self.directory.get(request.id) is None:  # the mistake: the test the wrong way round
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "finds a user"),
    "ALREADY_EXISTS for an id sent again": ((DISTINCT, WAITS), '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if request.id in found:
                    context.abort(grpc.StatusCode.ALREADY_EXISTS, f"id {request.id} was sent twice")
                if self.directory.get(request.id):
                    found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "no id is an error here"),
    "a snapshot of every known id, taken when the call starts": (ASKS_AGAIN, '''
        def CountAlreadyUsers(self, request_iterator, context):
            known = {user.id for user_type in (1, 2, 3, 4) for user in self.directory.of_type(user_type)}
            found = {request.id for request in request_iterator if request.id in known}
            return users_pb2.UserCountResponse(count=len(found))
    ''', "added since the call began"),
    "stops once the count reaches the directory's size at the start": (ASKS_AGAIN, '''
        def CountAlreadyUsers(self, request_iterator, context):
            total = sum(len(self.directory.of_type(user_type)) for user_type in (1, 2, 3, 4))
            found = set()
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    found.add(request.id)
                if len(found) == total:
                    break  # "it cannot get any higher"
            return users_pb2.UserCountResponse(count=len(found))
    ''', "stops too soon"),
    "answers early when less than a second is left": (WAITS, ANSWERS_EARLY_NEAR_THE_DEADLINE, "time_remaining"),
    "a bitmap of 65,536 ids": (LARGE, '''
        def CountAlreadyUsers(self, request_iterator, context):
            seen, count = bytearray(1 << 16), 0
            for request in request_iterator:
                if 0 < request.id < len(seen) and not seen[request.id] and self.directory.get(request.id):
                    seen[request.id] = 1
                    count += 1
            return users_pb2.UserCountResponse(count=count)
    ''', "a bitmap of a fixed size"),
    "ids squeezed into 32 bits": (LARGE, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                user_id = ctypes.c_int32(request.id).value
                if self.directory.get(user_id) is not None:
                    found.add(user_id)
            return users_pb2.UserCountResponse(count=len(found))
    ''', "squeezed into 32 bits"),
    "a window of the last 64 ids found, to spot an id sent again": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            recent, count = collections.deque(maxlen=64), 0
            for request in request_iterator:
                if request.id not in recent and self.directory.get(request.id) is not None:
                    recent.append(request.id)
                    count += 1
            return users_pb2.UserCountResponse(count=count)
    ''', "never emptied"),
    "a set of ids emptied after 10,000, to bound its memory": ((WAITS, ASKS_AGAIN), '''
        def CountAlreadyUsers(self, request_iterator, context):
            seen, count = set(), 0
            for request in request_iterator:
                if request.id in seen:
                    continue
                seen.add(request.id)
                if self.directory.get(request.id) is not None:
                    count += 1
                elif len(seen) > 10_000:
                    seen.clear()  # "keep memory bounded"
            return users_pb2.UserCountResponse(count=count)
    ''', "never emptied"),
    "distinct nicknames counted, not distinct ids": (COUNTS, DISTINCT_NICKNAMES, "not nicknames"),
    "every id found listed in the trailing metadata (past its limit)": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = {request.id for request in request_iterator if self.directory.get(request.id) is not None}
            context.set_trailing_metadata([("x-found-ids", ",".join(map(str, sorted(found))))])
            return users_pb2.UserCountResponse(count=len(found))
    ''', "limited to about 8 KB"),
    "sets kept in a dict keyed by context.peer()": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            BY_PEER[context.peer()] = set()
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    BY_PEER[context.peer()].add(request.id)
            return users_pb2.UserCountResponse(count=len(BY_PEER.pop(context.peer())))
    ''', "keyed by context.peer(), is shared"),
    # the walker's: removed when the method returns, so left behind by a cancelled call, for the next call whose
    # context has the same id() (or that runs on the same thread)
    "sets in a dict keyed by id(context), popped when the method returns": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            sets = self.__dict__.setdefault("sets", {})
            key = id(context)
            sets.setdefault(key, set())
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    sets[key].add(request.id)
            return users_pb2.UserCountResponse(count=len(sets.pop(key)))
    ''', "stays behind when the client cancels"),
    "sets in a dict keyed by the thread, popped when the method returns": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            sets = self.__dict__.setdefault("sets", {})
            key = threading.get_ident()
            sets.setdefault(key, set())
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    sets[key].add(request.id)
            return users_pb2.UserCountResponse(count=len(sets.pop(key)))
    ''', "stays behind when the client cancels"),
    "NOT_FOUND when ids came and none is a user's": ((UNKNOWN, BELOW_ONE), '''
        def CountAlreadyUsers(self, request_iterator, context):
            found, sent = set(), 0
            for request in request_iterator:
                sent += 1
                if self.directory.get(request.id) is not None:
                    found.add(request.id)
            if sent and not found:
                context.abort(grpc.StatusCode.NOT_FOUND, f"none of the {sent} ids sent belongs to a user")
            return users_pb2.UserCountResponse(count=len(found))
    ''', "a stream in which no id is a user's"),
    "INVALID_ARGUMENT when every id is 0 or below": (BELOW_ONE, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found, sent, positive = set(), 0, 0
            for request in request_iterator:
                sent += 1
                if request.id > 0:
                    positive += 1
                    if self.directory.get(request.id) is not None:
                        found.add(request.id)
            if sent and not positive:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "every id sent is 0 or below; ids start at 1")
            return users_pb2.UserCountResponse(count=len(found))
    ''', "all 0 and below"),
    "answers early when less than a quarter of a second is left": (
        WAITS, ANSWERS_EARLY_NEAR_THE_DEADLINE.replace("remaining < 1.0", "remaining < 0.25"), "breaks the loop"),
    "DEADLINE_EXCEEDED when less than half a second is left": (WAITS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            remaining = context.time_remaining()
            if remaining is not None and remaining < 0.5:
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"only {remaining:.2f} s left; give it at least 0.5 s")
            found = {request.id for request in request_iterator if self.directory.get(request.id) is not None}
            return users_pb2.UserCountResponse(count=len(found))
    ''', "aborts with DEADLINE_EXCEEDED before the time is up"),
    "distinct mail addresses counted, not distinct ids (\"one per person\")": (COUNTS, DISTINCT_NICKNAMES.replace(
        "user.nickname.casefold()", "user.mail_address.lower()"), "not mail addresses"),
    "a bitmap indexed by id % 2**20": (LARGE, '''
        def CountAlreadyUsers(self, request_iterator, context):
            seen, count = bytearray(1 << 20), 0  # "far smaller than a set of ints"
            for request in request_iterator:
                slot = request.id % len(seen)
                if not seen[slot] and self.directory.get(request.id) is not None:
                    seen[slot] = 1
                    count += 1
            return users_pb2.UserCountResponse(count=count)
    ''', "a bitmap of a fixed size"),
    "every unknown id listed in the trailing metadata (past its limit)": (UNKNOWN, '''
        def CountAlreadyUsers(self, request_iterator, context):
            found, unknown = set(), set()
            for request in request_iterator:
                (found if self.directory.get(request.id) is not None else unknown).add(request.id)
            context.set_trailing_metadata([("x-unknown-ids", ",".join(map(str, sorted(unknown))))])
            return users_pb2.UserCountResponse(count=len(found))
    ''', "limited to about 8 KB"),
    "each id decided once per call, a missing one too": (ASKS_AGAIN, '''
        def CountAlreadyUsers(self, request_iterator, context):
            seen, count = set(), 0
            for request in request_iterator:
                if request.id in seen:  # "already decided for this call"
                    continue
                seen.add(request.id)
                if self.directory.get(request.id) is not None:
                    count += 1
            return users_pb2.UserCountResponse(count=count)
    ''', "each time it arrives"),
    "the set a class attribute, with a new instance per call": (OWN_IDS, '''
        class Tally:
            seen = set()  # "filled per call": but one set, of the class, shared by every Tally

            def add(self, user_id):
                self.seen.add(user_id)

        def CountAlreadyUsers(self, request_iterator, context):
            tally = self.Tally()  # "a fresh tally for each call"
            for request in request_iterator:
                if self.directory.get(request.id) is not None:
                    tally.add(request.id)
            return users_pb2.UserCountResponse(count=len(tally.seen))
    ''', "a class attribute"),
    "keeps the set at module level, shared by every call": (OWN_IDS, '''
        def CountAlreadyUsers(self, request_iterator, context):
            for request in request_iterator:
                if self.directory.get(request.id):
                    SEEN.add(request.id)
            return users_pb2.UserCountResponse(count=len(SEEN))
    ''', "lives on between calls"),
}


# Lines of the answer that the wrong answers below change
IMPORTS = "from workshop.protos import users_pb2\n"
START = "    def CountAlreadyUsers(self, request_iterator, context):\n"
FOUND = "            if self.directory.get(request.id) is not None:\n"
WRONG_ANSWERS = {  # the answer with one mistake put in: (the module, the rules it breaks, what the first one's ✗ says)
    "never counts id 1 (a test off by one)": (
        wrong(SOLUTION, FOUND, FOUND.replace("if ", "if request.id > 1 and ")), COUNTS,
        ["id 1 alone → count=0, though a user has id 1", "a test such as `request.id > 1` leaves user 1 out"]),
    "the whole method under a lock at module level, its set a local one": (
        wrong_in_places(SOLUTION, {IMPORTS: "import threading\n\n" + IMPORTS,
                                   "class UserManager": "LOCK = threading.Lock()\n\n\nclass UserManager",
                                   START: START + "      with LOCK:  # \"one count at a time, to be safe\"\n"}),
        OWN_IDS, ["s later, once the call with ids 1, 2, 3 went on after its pause", "one call waited for the other"]),
    "answers with a UserResponse, the message of another rpc": (
        wrong(SOLUTION, "users_pb2.UserCountResponse(count=len(found))", "users_pb2.UserResponse()"),
        (COUNTS, DISTINCT, UNKNOWN, BELOW_ONE, WAITS, OWN_IDS, ASKS_AGAIN, LARGE),
        ["got count=0; expected 4; and ids 1, 2, 3, 404, 5 → count=0 too: every answer is 0",
         "does the method return users_pb2.UserCountResponse(count=len(found))? Another message type"]),
    "a second's sleep at the start of every call": (
        wrong_in_places(SOLUTION, {IMPORTS: "import time\n\n" + IMPORTS,
                                   START: START + "        time.sleep(1)  # \"let the client get going\"\n"}),
        OWN_IDS, ["went on after its pause of 2 s; nothing else was asked; and a call alone takes",
                  "a time.sleep holds the call"]),
}


@pytest.mark.parametrize("mistake", WRONG_ANSWERS)
def test_an_answer_with_one_mistake_fails_its_rules_and_says_why(mistake, tmp_path):
    source, rules, shown = WRONG_ANSWERS[mistake]
    rule, *also = rules if isinstance(rules, tuple) else (rules,)
    result = check(source, tmp_path)
    assert failed(result) == {rule, *also}, result
    assert all(text in f"{result[rule].got}\n{result[rule].hint}" for text in shown), result


def test_a_quiet_client_taken_for_done_after_5_seconds_fails_the_real_pause(real_pause, tmp_path):
    """The checker's own pause (6 s): a "quiet client is done" timeout of up to 5 s answers before the last ids."""
    result = check(learners_module(ANSWERS_AFTER_QUIET.format(seconds=5.0)), tmp_path)
    assert failed(result) == {WAITS}, result
    assert "the answer came before the stream ended" in result[WAITS].got, result
    assert "nor when the client pauses" in result[WAITS].hint, result


def test_a_not_found_from_a_caught_abort_of_getuser_is_named(tmp_path):
    """The kit's GetUser aborts NOT_FOUND for an unknown id: caught, its exception is gone, its code is not."""
    result = check(learners_module('''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                try:
                    found.add(super().GetUser(request, context).user.id)
                except Exception:  # "an unknown id: skip it"
                    pass
            return users_pb2.UserCountResponse(count=len(found))
    '''), tmp_path)
    assert UNKNOWN in failed(result), result
    assert "the call failed with NOT_FOUND" in result[UNKNOWN].got, result
    assert "came from an abort it caught" in result[UNKNOWN].hint and "returns None" in result[UNKNOWN].hint, result


def test_shipped_skeleton_is_reported_not_done_yet(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0 and len(result.cases) == len(RULES), result
    assert all("not done yet" in case.got for case in result.cases), result


@pytest.mark.parametrize("mistake", WRONG)
def test_wrong_answer_fails_only_the_rule_it_breaks(mistake, tmp_path):
    rules, method, hint_word = WRONG[mistake]
    rule, *also = rules if isinstance(rules, tuple) else (rules,)
    result = check(learners_module(method), tmp_path)
    assert failed(result) == {rule, *also}, result
    assert hint_word in result[rule].hint, result


def test_an_answer_inside_the_loop_is_named_by_the_first_case_it_fails(tmp_path):
    result = check(reference_with('''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if self.directory.get(request.id):
                    found.add(request.id)
                return users_pb2.UserCountResponse(count=len(found))
    '''), tmp_path)
    first = next(case for case in result.cases if not case.passed)
    assert first.label == COUNTS, result
    assert first.got == "got count=1; expected 4: the count of the first id alone: the answer came before the " \
                        "stream ended", result
    assert "a `return` inside" in first.hint, result


def test_lookups_left_unfinished_in_a_pool_are_named_on_every_rule_they_break(tmp_path):
    """A count of the lookups that are done() when the loop ends is short by those still running, by a different
    number on each run: whichever count it gets wrong, the hint says the answer came before its lookups finished.
    (Here each lookup takes 3 ms, so that the count is short, as a rule: on a loaded machine, some may be done.)"""
    result = check(learners_module('''
        def CountAlreadyUsers(self, request_iterator, context):
            lookups = {}
            for request in request_iterator:
                if request.id not in lookups:
                    lookups[request.id] = POOL.submit(self.slow_get, request.id)
            return users_pb2.UserCountResponse(count=sum(1 for lookup in lookups.values()
                                                         if lookup.done() and lookup.result() is not None))

        def slow_get(self, user_id):
            time.sleep(0.003)
            return self.directory.get(user_id)
    ''').replace("SEEN = set()", "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(32)\n"
                "SEEN = set()"), tmp_path)
    assert COUNTS in failed(result) and EMPTY not in failed(result), result
    for rule in failed(result):
        assert "the answer came before the lookups it started had finished" in result[rule].got, result
        assert "a count of the futures that are done() misses some" in result[rule].hint, result


def test_a_stop_at_the_first_unknown_id_is_named(tmp_path):
    result = check(reference_with('''
        def CountAlreadyUsers(self, request_iterator, context):
            found = set()
            for request in request_iterator:
                if self.directory.get(request.id) is None:
                    break
                found.add(request.id)
            return users_pb2.UserCountResponse(count=len(found))
    '''), tmp_path)
    assert failed(result) == {UNKNOWN, BELOW_ONE, WAITS}, result
    assert "the count of the ids before 404: the count stopped at the unknown id" in result[UNKNOWN].got, result
    assert "A `break`" in result[UNKNOWN].hint, result


@pytest.mark.parametrize("made, named", [("yield", "a `yield` in the method"), ("async def", "an `async def` method")])
def test_a_generator_or_a_coroutine_is_named(made, named, tmp_path):
    method = '''
        def CountAlreadyUsers(self, request_iterator, context):
            found = {request.id for request in request_iterator if self.directory.get(request.id) is not None}
            return users_pb2.UserCountResponse(count=len(found))
    '''
    method = method.replace("return", "yield") if made == "yield" else method.replace("def", "async def")
    result = check(reference_with(method), tmp_path)
    assert result.passed == 0, result
    assert named in result[COUNTS].hint and "Traceback" not in repr(result), result


def test_returning_a_bare_number_is_explained(tmp_path):
    result = check(reference_with('''
        def CountAlreadyUsers(self, request_iterator, context):
            return len({request.id for request in request_iterator if self.directory.get(request.id)})
    '''), tmp_path)
    assert result.passed == 0, result
    assert "not a bare number" in result[COUNTS].hint and "Traceback" not in repr(result)


def test_verdict_ignores_users_the_learner_added_before(tmp_path):
    """Notebook 04's checker once left a user behind that changed this count; a fresh copy has none."""
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server, server.channel() as channel:
        users_pb2_grpc.UserManagerStub(channel).AddUser(users_pb2.User(
            id=404, nickname="left_behind", mail_address="l@example.com", user_type=1), timeout=5)
        result = check_count_already_users(server)  # 404 is the checker's unknown id
    assert result.all_passed, result


def test_solution_passes_every_case_also_by_address(real_pause, tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        by_handle = check_count_already_users(server)
        by_address = check_count_already_users(server.address)
    assert by_handle.all_passed, by_handle
    assert by_address.all_passed, by_address


def test_stopped_server_is_reported_as_not_running(tmp_path):
    server = server_runner.start(str(write_cell(answer(SOLUTION), tmp_path)))
    server.stop()
    result = check_count_already_users(server)
    assert result.passed == 0, result
    assert all(case.got == "your server is not running" for case in result.cases), result


def test_counting_ids_nobody_has_is_told_so_on_the_zero_or_below_case_too(tmp_path):
    """Not "do not refuse it as GetUser does": nothing was refused, ids nobody has were counted."""
    rules, method, _ = WRONG["counts unknown ids"]
    result = check(learners_module(method), tmp_path)
    assert "it counted ids that no user has" in result[BELOW_ONE].got, result
    assert "0 and below too, counts nothing" in result[BELOW_ONE].hint and "refuse" not in result[BELOW_ONE].hint


def test_a_count_that_leaves_out_disabled_users_is_told_to_count_every_type(tmp_path):
    """The walker's: frank (id 6) is DISABLED, a user all the same; the hint once blamed a test `request.id > 1`."""
    leaves_out = wrong(SOLUTION, FOUND, "            if (user := self.directory.get(request.id)) is not None and "
                       "user.user_type != users_pb2.USER_TYPE_DISABLED:\n")
    result = check(leaves_out, tmp_path)
    assert failed(result), repr(result)
    assert all("request.id > 1" not in result[label].hint for label in failed(result)), repr(result)
    assert any("whatever its type" in result[label].hint for label in failed(result)), repr(result)


def test_a_count_that_leaves_out_guests_is_told_so_in_every_rule_it_breaks(tmp_path):
    """The walker's: guests not counted broke three rules, whose hints blamed `request.id > 1`, a set on self and an
    answer kept from an earlier call; a guest never asked counting 0 too, where a user of another type counts 1,
    shows the type is left out."""
    leaves_out = wrong(SOLUTION, FOUND, "            if (user := self.directory.get(request.id)) is not None and "
                       "user.user_type != users_pb2.USER_TYPE_GUEST:\n")
    result = check(leaves_out, tmp_path)
    assert failed(result), repr(result)
    assert all("whatever its type" in result[label].hint for label in failed(result)), repr(result)
