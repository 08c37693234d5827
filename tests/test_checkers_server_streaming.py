"""check_get_users_by_type (Exercise 5.1): the skeleton is not done, each wrong answer breaks its one rule,
the answer and the reference server pass, whatever ran before."""
import textwrap
from concurrent import futures

import grpc
import pytest
from exercises import (
    answer,
    assert_breaks_only,
    check_server_cell,
    failed,
    skeleton,
    write_cell,
    wrong,
    wrong_in_places,
)

import server_runner
from workshop.checkers.server_streaming import RULES, check_get_users_by_type
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers import users

SOLUTION = "05_1_get_users_by_type.py"
REFUSES, IN_ID_ORDER, EMPTY_TYPE, OWN_TYPE, NO_LOCK, CANCEL = RULES
# Lines of the answer that the wrong answers below change
IMPORTS = "import grpc\n"
LOOP = "        for user in self.directory.of_type(request.user_type):  # a list, in id order; no lock is held\n"
CHECK = "        problem = users.problem_with_user_type(request.user_type)\n"
YIELD = "            yield users_pb2.UserResponse(user=user)\n"


def check(source, tmp_path):
    return check_server_cell(check_get_users_by_type, source, tmp_path)


def with_method(method: str, above: str = "") -> str:
    """The answer's module with its GetUsersByType written as `method`, and `above` put above the class."""
    source = answer(SOLUTION)
    head, _, rest = source.partition("    def GetUsersByType")
    _, _, tail = rest.partition("\n\n\n")
    head = head.replace("class UserManager", above + "class UserManager") if above else head
    return head + textwrap.indent(textwrap.dedent(method).strip("\n"), "    ") + "\n\n\n" + tail


def test_with_method_rewrites_only_the_method():
    source = answer(SOLUTION)
    method = source[source.index("    def GetUsersByType"):source.index("\n\n\ndef add_to_server")]
    assert with_method(method) == source


NO_TYPE_CHECK = with_method("""
    def GetUsersByType(self, request, context):
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
ONLY_UNSPECIFIED_REFUSED = with_method("""
    def GetUsersByType(self, request, context):
        if request.user_type == users_pb2.USER_TYPE_UNSPECIFIED:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, users.problem_with_user_type(request.user_type))
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
VAGUE_REFUSAL = with_method("""
    def GetUsersByType(self, request, context):
        if users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid")
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
REFUSED_AFTER_STREAMING = with_method("""
    def GetUsersByType(self, request, context):
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
""")
SWALLOWS_THE_ABORT = with_method("""
    def GetUsersByType(self, request, context):
        try:
            if problem := users.problem_with_user_type(request.user_type):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        except Exception:  # "just in case": it also catches the exception that abort raises to end the call
            pass
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
BY_NICKNAME = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in sorted(self.directory.of_type(request.user_type), key=lambda user: user.nickname):
            yield users_pb2.UserResponse(user=user)
""")
NEWEST_FIRST = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in reversed(self.directory.of_type(request.user_type)):
            yield users_pb2.UserResponse(user=user)
""")
EACH_ONE_TWICE = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            response = users_pb2.UserResponse(user=user)
            yield response
            yield response
""")
YIELDS_USERS = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            yield user
""")
EMPTY_IS_NOT_FOUND = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        found = self.directory.of_type(request.user_type)
        if not found:
            context.abort(grpc.StatusCode.NOT_FOUND, "no user has this type")
        for user in found:
            yield users_pb2.UserResponse(user=user)
""")
# A lock of its own, "so that the list cannot change while it streams": held at every yield.
LOCK_WHILE_STREAMING = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        with LISTING:
            for user in self.directory.of_type(request.user_type):
                yield users_pb2.UserResponse(user=user)
""", above="import threading\n\nLISTING = threading.Lock()\n\n\n")
# The lock around one yield only, "the first user read under the lock, so the stream starts from a settled list"
# (and, below, "the last one, so that nothing is added before the stream ends"): a client that has not read the
# first (or the last) user yet keeps every other stream waiting.
LOCK_AROUND_THE_FIRST_YIELD = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        found = self.directory.of_type(request.user_type)
        for number, user in enumerate(found):
            if number == 0:
                with LISTING:
                    yield users_pb2.UserResponse(user=user)
            else:
                yield users_pb2.UserResponse(user=user)
""", above="import threading\n\nLISTING = threading.Lock()\n\n\n")
LOCK_AROUND_THE_LAST_YIELD = LOCK_AROUND_THE_FIRST_YIELD.replace("if number == 0:", "if number == len(found) - 1:")
# At most 3 streams at once, "to spare the database", each holding its slot while the client reads.
SEMAPHORE_WHILE_STREAMING = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        with SLOTS:
            for user in self.directory.of_type(request.user_type):
                yield users_pb2.UserResponse(user=user)
""", above="import threading\n\nSLOTS = threading.BoundedSemaphore(3)\n\n\n")
# At most 31 listings at once, "to spare the database" (one more than the checker pauses: only the leak shows).
# The slot is given back only when the loop ends, so every cancelled stream keeps its slot for ever.
LEAKS_ON_CANCEL = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        LISTINGS.acquire()
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        LISTINGS.release()
""", above="import threading\n\nLISTINGS = threading.Semaphore(31)\n\n\n")
# The same slot as a plain lock, taken before the loop and released after it: held at every yield,
# and never given back by a stream that is cancelled.
LOCK_RELEASED_AFTER_THE_LOOP = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        LISTING.acquire()
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        LISTING.release()
""", above="import threading\n\nLISTING = threading.Lock()\n\n\n")
DROPS_FIELDS = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=users_pb2.User(id=user.id, nickname=user.nickname))
""")
RETURNS_A_LIST = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        return [users_pb2.UserResponse(user=user) for user in self.directory.of_type(request.user_type)]
""")
WAITS_AFTER_THE_LAST_USER = with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        while context.is_active():  # "wait until the client is done": it waits for the end of this stream
            time.sleep(0.05)
""", above="import time\n\n\n")
# The request kept on self, "to use it later": a second call at the same time replaces it before the first reads it.
REQUEST_ON_SELF = wrong_in_places(SOLUTION, {
    IMPORTS: "import time\n\n" + IMPORTS,
    CHECK: "        self.request = request\n        time.sleep(0.05)  # a moment's work: another call comes\n" + CHECK,
    LOOP: LOOP.replace("of_type(request.user_type)", "of_type(self.request.user_type)")})
# A count of open streams on the class, "to refuse at 100": raised before the loop, lowered after it, so each
# cancelled stream leaves it raised (the walkthrough's w04).
COUNTS_OPEN_STREAMS = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        if UserManager.open_streams >= 100:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many open streams, try again later")
        UserManager.open_streams += 1
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        UserManager.open_streams -= 1
""").replace("class UserManager(users.UserManager):\n",
            "class UserManager(users.UserManager):\n    open_streams = 0\n\n")
# A producer thread and a queue of one: after a cancel nobody takes from it, and the thread waits in put() for ever.
PRODUCER_THREAD = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        responses = queue.Queue(maxsize=1)

        def produce():
            for user in self.directory.of_type(request.user_type):
                responses.put(users_pb2.UserResponse(user=user))
            responses.put(None)

        threading.Thread(target=produce, daemon=True).start()
        while (response := responses.get()) is not None:
            yield response
""", above="import queue\nimport threading\n\n\n")
# A log file per call, closed after the loop (never on cancel), and kept in a list "to flush them all at shutdown".
FILE_CLOSED_AFTER_THE_LOOP = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        log = open(os.devnull, "a")
        OPEN_LOGS.append(log)
        for user in self.directory.of_type(request.user_type):
            log.write(f"sent {user.id}\\n")
            yield users_pb2.UserResponse(user=user)
        log.close()
        OPEN_LOGS.remove(log)
""", above="import os\n\nOPEN_LOGS = []\n\n\n")
# A lock of its own taken "without waiting for ever": each other call waits out the timeout, then goes on.
LOCK_WITH_A_TIMEOUT = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        got = LISTING.acquire(timeout=0.5)
        try:
            for user in self.directory.of_type(request.user_type):
                yield users_pb2.UserResponse(user=user)
        finally:
            if got:
                LISTING.release()
""", above="import threading\n\nLISTING = threading.Lock()\n\n\n")
ENDS_EARLY_NEAR_THE_DEADLINE = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            remaining = context.time_remaining()
            if remaining is not None and remaining < 1.0:
                return  # "not enough time left: stop cleanly"
            yield users_pb2.UserResponse(user=user)
""")
NEGATIVE_TYPES_LET_THROUGH = with_method("""
    def GetUsersByType(self, request, context):
        if request.user_type == 0 or request.user_type >= len(users_pb2.UserType.keys()):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, users.problem_with_user_type(request.user_type))
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
SAME_NAME_DROPPED = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        seen = set()
        for user in self.directory.of_type(request.user_type):
            if user.nickname.strip().lower() not in seen:  # "no duplicates"
                seen.add(user.nickname.strip().lower())
                yield users_pb2.UserResponse(user=user)
""")
# The walkthrough's w01: "valid types are 1 .. number of enum names", off by one (the names count UNSPECIFIED too).
TYPES_UP_TO_THE_NUMBER_OF_NAMES = with_method("""
    def GetUsersByType(self, request, context):
        if request.user_type <= 0 or request.user_type > len(users_pb2.UserType.keys()):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, users.problem_with_user_type(request.user_type))
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
# w02: a refusal that offers every name UserType has, USER_TYPE_UNSPECIFIED (which it refuses) among them.
OFFERS_UNSPECIFIED = with_method("""
    def GetUsersByType(self, request, context):
        if users.problem_with_user_type(request.user_type):
            choices = ", ".join(users_pb2.UserType.keys())
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"user_type {request.user_type} is not a valid user type; choose one of {choices}")
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
# w04 and w05: "the client is about to give up" with less than half a second left: stop, or refuse at once.
ENDS_EARLY_WITH_HALF_A_SECOND_LEFT = ENDS_EARLY_NEAR_THE_DEADLINE.replace("remaining < 1.0", "remaining < 0.5")
REFUSES_WITH_HALF_A_SECOND_LEFT = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        remaining = context.time_remaining()
        if remaining is not None and remaining < 0.5:  # "not worth starting"
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"only {remaining:.2f} s left; give it at least 0.5 s")
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
""")
# w11: "each user once" by way of a set of ids, which has an order of its own (100 comes after 4, before 6).
EACH_ONCE_BY_A_SET = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        by_id = {user.id: user for user in self.directory.of_type(request.user_type)}
        for user_id in set(by_id):  # "each user once"
            yield users_pb2.UserResponse(user=by_id[user_id])
""")
# w09 and w10: a thread that the method stops after its loop, which a cancelled stream never reaches.
TIMER_CANCELLED_AFTER_THE_LOOP = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        watchdog = threading.Timer(30, print, args=("GetUsersByType has run for 30 s",))
        watchdog.start()
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        watchdog.cancel()
""", above="import threading\n\n\n")
PROGRESS_STOPPED_AFTER_THE_LOOP = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        found, done, sent = self.directory.of_type(request.user_type), threading.Event(), [0]

        def report():
            while not done.wait(1.0):
                print(f"{sent[0]} of {len(found)} sent")

        threading.Thread(target=report, daemon=True).start()
        for user in found:
            yield users_pb2.UserResponse(user=user)
            sent[0] += 1
        done.set()
""", above="import threading\n\n\n")
REFERENCE = "from workshop.servers.users import add_to_server\n"


WRONG_ANSWERS = {  # the mistake: (the module, the one rule it breaks, what the ✗ line and its hint say)
    "not refusing UNSPECIFIED (streams the planted untyped user)":
        (NO_TYPE_CHECK, REFUSES, ["USER_TYPE_UNSPECIFIED → a stream of 1 user that ended OK; expected INVALID_ARGUMENT",
                                  "users.problem_with_user_type"]),
    "refusing only UNSPECIFIED, not a number that is no type":
        (ONLY_UNSPECIFIED_REFUSED, REFUSES, ["user_type 99 → a stream of no users that ended OK"]),
    "a refusal that does not say what is wrong":
        (VAGUE_REFUSAL, REFUSES, ["USER_TYPE_UNSPECIFIED → INVALID_ARGUMENT said 'invalid', which does not say what is "
                                  "wrong", "name what was sent (the user_type was not set)",
                                  "users.problem_with_user_type(request.user_type) does"]),
    "a refusal that lists the types but names nothing sent":
        (VAGUE_REFUSAL.replace('"invalid"', '"user_type must be one of " + ", ".join(users_pb2.UserType.keys()[1:])'),
         REFUSES, ["user_type 99 → INVALID_ARGUMENT said 'user_type must be one of USER_TYPE_NORMAL", "…', which does "
                   "not say what is wrong", "name what was sent (the number 99)"]),
    "a refusal that says nobody has the type":
        (with_method("""
    def GetUsersByType(self, request, context):
        if users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no users have user_type {request.user_type}")
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
"""), REFUSES, ["as if nobody had a type that is not one"]),
    "a refusal that names the value and nothing to send instead":
        (with_method("""
    def GetUsersByType(self, request, context):
        if users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"user_type={request.user_type}")
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
"""), REFUSES, ["said 'user_type=0', which does not say what to send instead"]),
    "lists kept from earlier calls":
        (with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in KEPT.setdefault(request.user_type, self.directory.of_type(request.user_type)):
            yield users_pb2.UserResponse(user=user)
""", above="KEPT = {}\n\n\n"), IN_ID_ORDER, ["asked again after lou was added", "on every call"]),
    "refusing only after the users were sent":
        (REFUSED_AFTER_STREAMING, REFUSES, ["1 user came before INVALID_ARGUMENT; expected none",
                                            "before the first yield"]),
    "catching the exception that abort raises":
        (SWALLOWS_THE_ABORT, REFUSES, ["1 user came before INVALID_ARGUMENT; expected none", "a try/except around it"]),
    "sorting by nickname":
        (BY_NICKNAME, IN_ID_ORDER,
         ["got NORA, ada, bo Li , nora, tess (nickname order); expected id order: tess, bo Li , NORA, nora, ada"]),
    "newest first":
        (NEWEST_FIRST, IN_ID_ORDER, ["(newest first)", "of_type"]),
    "sending each user twice":
        (EACH_ONE_TWICE, IN_ID_ORDER, ["tess, bo Li , NORA, nora, ada came more than once"]),
    "each user without its mail address and type":
        (DROPS_FIELDS, IN_ID_ORDER, ['tess came as id: 4 nickname: "tess"', "every field"]),
    "NOT_FOUND for a type nobody has":
        (EMPTY_IS_NOT_FOUND, EMPTY_TYPE, ["DISABLED → NOT_FOUND: no user has this type; expected a stream that ends OK",
                                          "not an error"]),
    "a lock held while yielding":
        (LOCK_WHILE_STREAMING, NO_LOCK,
         ["while a NORMAL stream waited to send its first user", "hold no lock"]),
    "a lock held while yielding the first user only":
        (LOCK_AROUND_THE_FIRST_YIELD, NO_LOCK,
         ["while a NORMAL stream waited to send its first user (its client read 0 and then paused), a second "
          "GetUsersByType got no answer", "hold no lock"]),
    "a lock held while yielding the last user only":
        (LOCK_AROUND_THE_LAST_YIELD, NO_LOCK, ["while a NORMAL stream waited to send its last user", "hold no lock"]),
    "a semaphore of 3 slots held while yielding":
        (SEMAPHORE_WHILE_STREAMING, NO_LOCK,
         ["while 3 streams were paused unread, another GUEST stream sent nothing", "nor a semaphore's slot"]),
    "a connection from a pool of 32, given back only when the loop ends":
        (with_method("""
    def GetUsersByType(self, request, context):
        problem = users.problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        connection = POOL.get()  # "one of 32 database connections"
        for user in self.directory.of_type(request.user_type):
            yield users_pb2.UserResponse(user=user)
        POOL.put(connection)
""", above="import queue\n\nPOOL = queue.Queue()\nfor number in range(32):\n    POOL.put(number)\n\n\n"),
         CANCEL, ["after 32 streams were read a little and cancelled, the next one sent nothing", "`finally`"]),
    "a semaphore of 25 slots held while yielding (fewer than the server's 32 threads)":
        (SEMAPHORE_WHILE_STREAMING.replace("BoundedSemaphore(3)", "BoundedSemaphore(25)"), NO_LOCK,
         ["while 25 streams were paused unread, another GUEST stream sent nothing", "nor a semaphore's slot"]),
    "a semaphore of 30 slots held while yielding (as many as the checker pauses)":
        (SEMAPHORE_WHILE_STREAMING.replace("BoundedSemaphore(3)", "BoundedSemaphore(30)"), NO_LOCK,
         ["while 30 GUEST streams were paused unread, a second GetUsersByType got no answer", "nor a semaphore's"]),
    "nicknames tidied before they are sent":
        (with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            user.nickname = user.nickname.strip()  # "tidy it up"
            yield users_pb2.UserResponse(user=user)
"""), IN_ID_ORDER, ["'bo Li ' came as 'bo Li'", "nothing tidied"]),
    "a slot given back only when the loop ends, never on cancel":
        (LEAKS_ON_CANCEL, CANCEL, ["after 31 streams were read a little and cancelled, the next one sent nothing",
                                   "`with` or `finally`"]),
    "half a second of work before each stream (too slow for 40 cancelled streams in a row)":
        (wrong_in_places(SOLUTION, {IMPORTS: "import time\n\n" + IMPORTS,
                                    LOOP: "        time.sleep(0.5)  # \"connect to the database\"\n" + LOOP}),
         CANCEL, ["streams, each read a little and cancelled, took", "s each): the 40 in a row", "a time.sleep",
                  "worker threads"]),
    "the list kept on self, a header sent before it is read (no sleep: only many calls at once show it)":
        (with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        self.found = self.directory.of_type(request.user_type)
        context.send_initial_metadata([("x-total-count", str(len(self.found)))])
        for user in self.found:
            yield users_pb2.UserResponse(user=user)
"""), OWN_TYPE, ["asked at the same time as", "12 calls at once", "not on self"]),
    "a count of open streams lowered after the loop, never on cancel":
        (COUNTS_OPEN_STREAMS, CANCEL, ["after 100 streams were read a little and cancelled, the next one ended "
                                       "RESOURCE_EXHAUSTED", "lowered after it", "`finally`"]),
    "a producer thread left waiting in put() by each cancel":
        (PRODUCER_THREAD, CANCEL, ["more threads than before: about one left behind by each",
                                   "A producer that put()s into a queue"]),
    "a file closed after the loop, never on cancel":
        (FILE_CLOSED_AFTER_THE_LOOP, CANCEL, ["more open files than before: about one left behind by each",
                                              "`with open(...) as log:`"]),
    "a lock held while yielding, taken with a timeout":
        (LOCK_WITH_A_TIMEOUT, NO_LOCK, ["GUEST streams waited about 0.5 s for its first user", "acquire(timeout"]),
    "ending the stream early, OK, when less than a second is left":
        (ENDS_EARLY_NEAR_THE_DEADLINE, IN_ID_ORDER, ["NORMAL with a deadline of 0.4 s → no users, and the stream ended "
                                                     "OK; expected all 5", "time_remaining"]),
    "ending the stream early, OK, when less than half a second is left":
        (ENDS_EARLY_WITH_HALF_A_SECOND_LEFT, IN_ID_ORDER, ["NORMAL with a deadline of 0.4 s → no users, and the "
                                                           "stream ended OK", "returns early"]),
    "refusing a call with less than half a second left, DEADLINE_EXCEEDED":
        (REFUSES_WITH_HALF_A_SECOND_LEFT, IN_ID_ORDER, ["NORMAL, with a deadline of 0.4 s → DEADLINE_EXCEEDED after",
                                                        "before the deadline had passed", "only 0.",
                                                        "aborts with DEADLINE_EXCEEDED before the time is up"]),
    "valid types taken as 1 to the number of UserType's names (5 let through)":
        (TYPES_UP_TO_THE_NUMBER_OF_NAMES, REFUSES, ["user_type 5 → a stream of no users that ended OK",
                                                    "it refuses 5 too", "off by one"]),
    "a refusal that offers USER_TYPE_UNSPECIFIED among the types to send":
        (OFFERS_UNSPECIFIED, REFUSES, ["which offers USER_TYPE_UNSPECIFIED as a type to send, though it is refused",
                                       "offer only what is accepted", "users.USER_TYPES"]),
    "each user once by way of a set of their ids, in the set's order":
        (EACH_ONCE_BY_A_SET, IN_ID_ORDER, ["got tess, ada, bo Li , NORA, nora (in no order); expected id order",
                                           "a set (or a dict's keys made into one) has an order of its own"]),
    "a watchdog timer cancelled after the loop, never on cancel":
        (TIMER_CANCELLED_AFTER_THE_LOOP, CANCEL, ["more threads than before: about one left behind by each",
                                                  "threading.Timer cancelled", "Stop it in `finally`",
                                                  "GeneratorExit"]),
    "a progress thread stopped after the loop, never on cancel":
        (PROGRESS_STOPPED_AFTER_THE_LOOP, CANCEL, ["more threads than before: about one left behind by each",
                                                   "an Event set for a progress thread", "Stop it in `finally`"]),
    "refusing 0 and numbers past the last type, not negative ones":
        (NEGATIVE_TYPES_LET_THROUGH, REFUSES, ["user_type -1 → a stream of no users that ended OK",
                                               "numbers below 0"]),
    "leaving out a user whose nickname differs from another's only in case":
        (SAME_NAME_DROPPED, IN_ID_ORDER, ["got tess, bo Li , NORA, ada: nora missing", "'nora' is a user of its own"]),
    "the request kept on self, read after a moment":
        (REQUEST_ON_SELF, OWN_TYPE, ["asked at the same time as", "; asked alone → ",  # which type: the race's
                                     "in local variables", "not on self"]),
}


def test_a_method_that_cancels_its_own_call_is_told_to_just_return(tmp_path):
    result = check(wrong(SOLUTION, YIELD, YIELD + "        context.cancel()  # \"done\"\n"), tmp_path)
    assert failed(result) == {IN_ID_ORDER, EMPTY_TYPE, NO_LOCK, OWN_TYPE}, repr(result)
    assert "NORMAL → 5 users, then CANCELLED, though the checker read on and did not cancel" in result[IN_ID_ORDER].got
    assert all("cancelled its own call" in result[rule].hint and "just return" in result[rule].hint
               for rule in failed(result)), repr(result)


def test_an_abort_with_status_ok_is_told_that_abort_cannot_end_a_call_ok(tmp_path):
    """grpcio turns context.abort(grpc.StatusCode.OK, ...) into UNKNOWN (and logs it): not a wrong kind of code."""
    result = check(with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        found = self.directory.of_type(request.user_type)
        for user in found:
            yield users_pb2.UserResponse(user=user)
        if not found:
            context.abort(grpc.StatusCode.OK, "no users of this type")
"""), tmp_path)
    assert failed(result) == {EMPTY_TYPE, OWN_TYPE}, repr(result)
    assert result[EMPTY_TYPE].got == "the call ended UNKNOWN: your server called context.abort with " \
                                     "grpc.StatusCode.OK", repr(result)
    assert "abort cannot end a call OK" in result[EMPTY_TYPE].hint and "just return" in result[EMPTY_TYPE].hint
    assert "a string ('NOT_FOUND')" not in repr(result), repr(result)


def test_is_active_tested_the_wrong_way_round_is_named(tmp_path):
    result = check(wrong(SOLUTION, "if not context.is_active():", "if context.is_active():"), tmp_path)
    assert failed(result) == {IN_ID_ORDER, NO_LOCK, CANCEL}, repr(result)
    assert "NORMAL → no users, and the stream ended OK; 5 users have the type" in result[IN_ID_ORDER].got
    assert all("is_active() is True while the client still listens" in result[rule].hint
               for rule in failed(result)), repr(result)


def test_an_empty_response_before_the_type_check_is_told_to_refuse_first(tmp_path):
    result = check(wrong(SOLUTION, CHECK, "        yield users_pb2.UserResponse()  # \"it has begun\"\n" + CHECK),
                   tmp_path)
    assert REFUSES in failed(result) and CANCEL not in failed(result), repr(result)
    assert result[REFUSES].got == "UNSPECIFIED → an empty UserResponse (no user in it) came first, then " \
                                  "INVALID_ARGUMENT", repr(result)
    assert "refuse first: nothing may be yielded before" in result[REFUSES].hint, repr(result)
    assert all("before the type check" in result[rule].hint for rule in failed(result)), repr(result)


def test_slow_work_between_yields_that_checks_is_active_passes(tmp_path):
    """The pattern the prose recommends: however slow each step, more cancelled streams than threads end in time."""
    slow = with_method("""
    def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            time.sleep(0.1)  # slow work between two yields: 40 cancelled streams of it take a while
            if not context.is_active():
                return
            yield users_pb2.UserResponse(user=user)
""").replace("import grpc\n", "import time\n\nimport grpc\n", 1)
    result = check(slow, tmp_path)
    assert result.all_passed, repr(result)


def test_an_empty_response_after_the_users_is_told_it_is_no_end_marker(tmp_path):
    result = check(wrong(SOLUTION, YIELD, YIELD + "        yield users_pb2.UserResponse()  # \"the end\"\n"), tmp_path)
    assert failed(result) == {IN_ID_ORDER, EMPTY_TYPE, OWN_TYPE, NO_LOCK}, repr(result)
    assert "NORMAL → 5 users, then an empty UserResponse (no user in it)" in result[IN_ID_ORDER].got, repr(result)
    assert all("no end marker" in result[rule].hint for rule in failed(result)), repr(result)
    assert "refuse first" not in repr(result), repr(result)


def test_an_async_def_method_is_named(tmp_path):
    result = check(wrong(SOLUTION, "    def GetUsersByType", "    async def GetUsersByType"), tmp_path)
    assert failed(result) == set(RULES), repr(result)
    assert all("async def" in result[rule].hint and "plain `def`" in result[rule].hint
               for rule in failed(result)), repr(result)


def test_a_number_in_the_trailing_metadata_is_named(tmp_path):
    """grpcio fails to send an int as metadata, and the call hangs: the log's TypeError names the cause."""
    result = check(wrong(SOLUTION, YIELD, YIELD + '        context.set_trailing_metadata([("x-total-count", 5)])\n'),
                   tmp_path)
    assert {IN_ID_ORDER, EMPTY_TYPE} <= failed(result), repr(result)
    assert all("metadata values are str" in result[rule].hint for rule in failed(result)), repr(result)


def test_returning_a_list_is_told_to_yield(tmp_path):
    result = check(RETURNS_A_LIST, tmp_path)
    assert failed(result) == set(RULES) - {REFUSES}, repr(result)
    assert all("'list' object is not an iterator" in result[rule].got and "write it as a generator" in
               result[rule].hint for rule in failed(result)), repr(result)


def test_a_method_that_never_ends_is_not_blamed_on_a_lock(tmp_path):
    result = check(WAITS_AFTER_THE_LAST_USER, tmp_path)
    assert NO_LOCK in failed(result), repr(result)
    assert "with no other stream open" in result[NO_LOCK].got and "never ends" in result[NO_LOCK].hint, repr(result)


@pytest.mark.parametrize("mistake", WRONG_ANSWERS)
def test_a_wrong_answer_breaks_only_its_rule_and_the_hint_says_why(mistake, tmp_path):
    source, rule, shown = WRONG_ANSWERS[mistake]
    assert_breaks_only(check(source, tmp_path), rule, shown)


def test_a_lock_released_after_the_loop_is_named_where_the_cancel_leaks_it(tmp_path):
    """Held across each yield (rule 4), and kept for ever by the first cancelled stream (rule 5): the
    cancel line counts from its own copy of the module, so it says 1 stream, and names the lock."""
    result = check(LOCK_RELEASED_AFTER_THE_LOOP, tmp_path)
    assert failed(result) == {NO_LOCK, CANCEL}, repr(result)
    assert "after 1 stream was read a little and cancelled, the next one sent nothing" in result[CANCEL].got
    assert "a lock, released after the loop?" in result[CANCEL].hint, repr(result)


def test_shipped_skeleton_is_reported_not_done_yet(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0, repr(result)
    assert all("not done yet" in case.got for case in result.cases), repr(result)


def test_yielding_users_instead_of_responses_is_reported(tmp_path):
    result = check(YIELDS_USERS, tmp_path)
    assert IN_ID_ORDER in failed(result), repr(result)
    assert "a message came with no user in it" in repr(result) and "inside a UserResponse" in repr(result)


def test_answer_passes_every_rule_and_again_after_its_server_was_used(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        first = check_get_users_by_type(server)
        with server.channel() as channel:  # what a learner might do in between: it must not matter
            users_pb2_grpc.UserManagerStub(channel).AddUser(users_pb2.User(
                nickname="zoe", mail_address="zoe@example.com", user_type=users_pb2.USER_TYPE_NORMAL), timeout=5)
        second = check_get_users_by_type(server)
    assert first.all_passed, repr(first)
    assert repr(first) == repr(second)


def test_reference_server_passes_the_same_rules(tmp_path):
    result = check(REFERENCE, tmp_path)
    assert result.all_passed, repr(result)


def test_a_server_given_by_its_address_is_judged_on_a_copy_when_the_kit_runs_it(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        result = check_get_users_by_type(server.address)  # the registry names its module
    assert result.all_passed, repr(result)


def test_a_server_the_kit_does_not_run_is_refused_with_a_hint():
    by_hand = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    users.add_to_server(by_hand)  # the reference servicer, as a learner might serve it from a terminal
    port = by_hand.add_insecure_port("127.0.0.1:0")
    by_hand.start()
    try:
        result = check_get_users_by_type(f"127.0.0.1:{port}")
    finally:
        by_hand.stop(None)
    assert result.passed == 0, repr(result)
    assert "could not start its own copy" in repr(result) and "server_runner.start" in repr(result)
