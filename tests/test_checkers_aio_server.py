"""Notebook 09's checker for 9.1 (a grpc.aio GetUsersByType over a slow directory): ✗ "not done yet" on the
skeleton, ✓ on the answer, and each wrong answer breaks the rule it is written for, with a hint that names its cause.
(9.2's checker has tests/test_checkers_grpclib_client.py: two files, so that they run on both pytest-xdist workers.)"""
import pytest
from exercises import answer, assert_breaks_only, check_server_cell, failed, skeleton, wrong, wrong_in_places

from workshop.checkers.asyncio_servers import RULES as AIO_RULES
from workshop.checkers.asyncio_servers import check_aio_users_by_type

AIO = "09_1_aio_users_by_type.py"
REFUSES, IN_ORDER, EMPTY, NEVER_BLOCKS, ASYNC_DEF = AIO_RULES


def check_aio(source, tmp_path):
    return check_server_cell(check_aio_users_by_type, source, tmp_path)


def test_users_remembered_as_sent_are_missed_later_and_by_a_stream_beside(tmp_path):
    """One set of sent ids for every call: the next stream lacks them, and so does a second stream at once."""
    result = check_aio(wrong(AIO, LOOP, REMEMBERS), tmp_path)
    assert failed(result) == {IN_ORDER, NEVER_BLOCKS}, repr(result)
    assert "users remembered as sent" in result[IN_ORDER].hint, repr(result)
    assert "asked while other calls were under way" in result[NEVER_BLOCKS].got, repr(result)


def test_aio_skeleton_is_reported_as_not_done(tmp_path):
    result = check_aio(skeleton(AIO), tmp_path)
    assert result.passed == 0 and all("not done yet" in case.got for case in result.cases), repr(result)


def test_aio_answer_passes_every_rule(tmp_path):
    result = check_aio(answer(AIO), tmp_path)
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == list(AIO_RULES)


LOOKUP = "await asyncio.to_thread(self.directory.of_type, request.user_type)"
LOOP = "        for user in found:\n            yield users_pb2.UserResponse(user=user)\n"
REMEMBERS = """\
        sent = self.__dict__.setdefault("sent", set())
        for user in found:
            if user.id in sent:  # "already known"
                continue
            sent.add(user.id)
            yield users_pb2.UserResponse(user=user)
"""
AIO_WRONG = {  # the mistake: (the module, the one rule it breaks, what the ✗ line and its hint say)
    "abort not awaited": (wrong(AIO, "await context.abort(", "context.abort("), REFUSES,
                          ["untyped, then the stream ended OK", "context.abort is a coroutine"]),
    "a message that names nothing": (wrong(AIO, "INVALID_ARGUMENT, problem)", 'INVALID_ARGUMENT, "bad request")'),
                                     REFUSES, ["'bad request', not users.problem_with_user_type's"]),
    "words of its own": (wrong(AIO, "INVALID_ARGUMENT, problem)",
                               'INVALID_ARGUMENT, f"bad user_type {request.user_type}")'),
                         REFUSES, ["'bad user_type 0', not", "as they are"]),
    "UNSPECIFIED counted as a listed type": (
        wrong(AIO, "if problem := users.problem_with_user_type(request.user_type):",
              "if request.user_type not in users_pb2.UserType.values():\n"
              "            problem = users.problem_with_user_type(request.user_type)"),
        REFUSES, ["USER_TYPE_UNSPECIFIED → untyped", "means 'not set'"]),
    "a range of its own that lets -1 through": (
        wrong(AIO, "if problem := users.problem_with_user_type(request.user_type):",
              "if request.user_type == 0 or request.user_type > users_pb2.USER_TYPE_DISABLED:\n"
              "            problem = users.problem_with_user_type(request.user_type)"),
        REFUSES, ["user_type -1 → no users, then the stream ended OK", "no range of your own"]),
    "a range of its own that lets 5 through": (
        wrong(AIO, "if problem := users.problem_with_user_type(request.user_type):",
              "if request.user_type <= 0 or request.user_type > 5:\n"
              "            problem = users.problem_with_user_type(request.user_type)"),
        REFUSES, ["user_type 5 → no users", "no range of your own"]),
    "DISABLED refused as if it were no type": (
        wrong(AIO, "if problem := users.problem_with_user_type(request.user_type):",
              "if request.user_type not in (users_pb2.USER_TYPE_NORMAL, users_pb2.USER_TYPE_ADMINISTRATOR,\n"
              "                                     users_pb2.USER_TYPE_GUEST):\n"
              "            problem = users.problem_with_user_type(request.user_type) or \"not a type\""),
        EMPTY, ["USER_TYPE_DISABLED → no users, then INVALID_ARGUMENT", "is never refused"]),
    "DISABLED never listed": (wrong(AIO, "        for user in found:\n", """\
        if request.user_type == users_pb2.USER_TYPE_DISABLED:  # "they may no longer sign in"
            return
        for user in found:
"""), EMPTY, ["USER_TYPE_DISABLED → no users, then the stream ended OK; expected 150 users", "whatever the type"]),
    "sorted by nickname": (wrong(AIO, "for user in found:", "for user in sorted(found, key=lambda u: u.nickname):"),
                           IN_ORDER, ["ada, bo, nora, tess, zed, then the stream ended OK", "id order"]),
    "NOT_FOUND for a type nobody has": (wrong(AIO, "        for user in found:\n", """\
        if not found:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no user has this type")
        for user in found:
"""), EMPTY, ["USER_TYPE_GUEST → no users, then NOT_FOUND", "not an error"]),
    "the directory called in the event loop": (wrong(AIO, LOOKUP, "self.directory.of_type(request.user_type)"),
                                               NEVER_BLOCKS, ["two health checks in a row got no", "to_thread"]),
    "a thread lock held across the await": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        with LOCK:  # "one lookup at a time": held across the await, it stops the loop for the next call
            found = {LOOKUP}""").replace("ASYNCIO = True", "ASYNCIO = True\nLOCK = threading.Lock()").replace(
        "import asyncio\n", "import asyncio\nimport threading\n"), NEVER_BLOCKS, ["threading.Lock"]),
    "GUEST never asked of the directory": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        if request.user_type == users_pb2.USER_TYPE_GUEST:
            return  # "nobody is a guest"
        found = {LOOKUP}"""), IN_ORDER, ["USER_TYPE_GUEST, asked again after gil was added", "on every call"]),
    "a type found empty once remembered": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        empty = self.__dict__.setdefault("empty", set())
        if request.user_type in empty:
            return
        found = {LOOKUP}
        if not found:
            empty.add(request.user_type)"""), IN_ORDER, ["USER_TYPE_GUEST, asked again after gil was added",
                                                         "on every call"]),
    "one lookup at a time for each type": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        lock = self.__dict__.setdefault("locks", {{}}).setdefault(request.user_type, asyncio.Lock())
        async with lock:  # "one lookup per type at a time"
            found = {LOOKUP}"""), NEVER_BLOCKS, ["one waited for another", "a lock per type"]),
    "two lookups at a time": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        async with self.__dict__.setdefault("gate", asyncio.Semaphore(2)):  # "spare the database"
            found = {LOOKUP}"""), NEVER_BLOCKS, ["one waited for another", "a semaphore"]),
    "the type kept on self": (wrong_in_places(AIO, {
        "        if problem := users.problem_with_user_type(request.user_type):":
        "        self.user_type = request.user_type  # \"remember what was asked\": one servicer serves every call\n"
        "        if problem := users.problem_with_user_type(request.user_type):",
        "        for user in found:\n": "        for user in found:\n            if user.user_type != self.user_type:\n"
        "                continue\n"}),
        NEVER_BLOCKS, ["asked while other calls were under way", "local variables"]),
    "the list kept on self, popped as it is sent": (wrong_in_places(AIO, {  # seen passing 2 runs in 12 before lookups
        f"        found = {LOOKUP}": f"        self.found = {LOOKUP}",  # of one round ended at the same moment
        LOOP: "        while self.found:\n            yield users_pb2.UserResponse(user=self.found.pop(0))\n"}),
        NEVER_BLOCKS, ["asked while other calls were under way", "local variables"]),
    "an abort whose exception is caught, the lookup made after the refusal": (wrong(
        AIO, "            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)",
        "            try:\n                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)\n"
        "            except Exception:  # \"just in case\": it catches what ends the method\n"
        "                pass"), NEVER_BLOCKS, ["the directory was asked for that type all the same",
                                                "inside try/except"]),
    "a lookup started beside the check": (wrong_in_places(AIO, {
        f"        found = {LOOKUP}  # the loop goes on meanwhile\n": "        found = await lookup\n",
        "        if problem := users.problem_with_user_type(request.user_type):":
        f"        lookup = asyncio.ensure_future({LOOKUP.removeprefix('await ')})  # \"get going at once\"\n"
        "        if problem := users.problem_with_user_type(request.user_type):"}),
        NEVER_BLOCKS, ["the directory was asked for that type all the same", "a task made beside it"]),
    "the context kept on self": (wrong_in_places(AIO, {
        "        if problem := users.problem_with_user_type(request.user_type):\n"
        "            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)": "        self.context = context",
        "        for user in found:\n": "        if problem := users.problem_with_user_type(request.user_type):\n"
        "            await self.context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)\n"
        "        for user in found:\n"}),
        NEVER_BLOCKS, ["asked while other calls were under way", "self.anything"]),
    "time.sleep for a moment in async def": (wrong(AIO, "        for user in found:\n", """\
        time.sleep(0.5)  # "give the database a moment": the whole loop sleeps
        for user in found:
""").replace("import asyncio\n", "import asyncio\nimport time\n"), NEVER_BLOCKS, ["the event loop was stopped"]),
    "a short time.sleep before the lookup": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        time.sleep(0.15)  # "let the database breathe": shorter than a health check's wait, still a block
        found = {LOOKUP}""").replace("import asyncio\n", "import asyncio\nimport time\n"), NEVER_BLOCKS,
        ["event loop", "time.sleep"]),  # 3 at once: 0.45 s in a row, caught by a health check or debug mode
    "a pause of 0.08 s after the last user": (wrong(AIO, "            yield users_pb2.UserResponse(user=user)\n",
                                                     "            yield users_pb2.UserResponse(user=user)\n"
                                                     "        time.sleep(0.08)  # \"let the client catch up\"\n"
                                                     ).replace("import asyncio\n", "import asyncio\nimport time\n"),
                                               NEVER_BLOCKS, ["held the event loop for 0.0", "time.sleep"]),
    "a short time.sleep per user": (wrong(AIO, "            yield users_pb2.UserResponse(user=user)\n",
                                          "            time.sleep(0.02)  # \"pace the stream\": 150 users, 3 s\n"
                                          "            yield users_pb2.UserResponse(user=user)\n").replace(
        # on a loaded machine a health check may be the first to wait for the sleeps: both hints name time.sleep
        "import asyncio\n", "import asyncio\nimport time\n"), NEVER_BLOCKS, ["time.sleep"]),
    "the directory asked before the refusal": (wrong_in_places(AIO, {
        f"        found = {LOOKUP}  # the loop goes on meanwhile\n": "",
        "        if problem := users.problem_with_user_type(request.user_type):":
        f"        found = {LOOKUP}  # \"fetch first, then check\"\n"
        "        if problem := users.problem_with_user_type(request.user_type):"}),
        NEVER_BLOCKS, ["the refusal of USER_TYPE_UNSPECIFIED took 1.", "refuse first, then look"]),
    "one user per mail address": (wrong(AIO, "        for user in found:\n", """\
        mails = set()
        for user in found:
            if user.mail_address in mails:  # "no duplicates"
                continue
            mails.add(user.mail_address)
"""), EMPTY, ["ADMINISTRATOR → root, sys Admin , then the stream ended OK", "two may share a mail"]),
    "a timeout of its own around the lookup": (wrong(AIO, LOOKUP, "await asyncio.wait_for(asyncio.to_thread("
                                                 "self.directory.of_type, request.user_type), 0.5)"),
                                           NEVER_BLOCKS, ["Unexpected", "a timeout of your own ran out"]),
    "a blocking pause before the refusal": (wrong(AIO, "await context.abort(",
                                                 "time.sleep(0.3)\n            await context.abort(").replace(
        "import asyncio\n", "import asyncio\nimport time\n"), NEVER_BLOCKS,
        ["held the event loop for 0.3", "time.sleep"]),
    "a blocking pause when nobody has the type": (wrong(AIO, "        for user in found:\n", """\
        if not found:
            time.sleep(0.3)  # "nothing found: let the database settle"
        for user in found:
""").replace("import asyncio\n", "import asyncio\nimport time\n"), NEVER_BLOCKS,
        ["held the event loop for 0.3", "time.sleep"]),
    "a plain def, served in a thread": (wrong(AIO, "await asyncio.to_thread(self.directory.of_type, request.user_type)",
                                              "self.directory.of_type(request.user_type)").replace(
        "    async def GetUsersByType", "    def GetUsersByType").replace("await context.abort(", "context.abort("),
        ASYNC_DEF, ["is a plain def", "async def GetUsersByType"]),
    "users of id 0 left out": (wrong(AIO, "        for user in found:\n",
                                     "        for user in [u for u in found if u.id]:\n"),
                                IN_ORDER, ["tess, bo, nora, ada, then the stream ended OK", "id 0 is an id"]),
    "a stream capped at 100": (wrong(AIO, "        for user in found:\n", "        for user in found[:100]:\n"),
                               EMPTY, ["DISABLED → 100 users", "every user of the list"]),
    "lists kept from earlier calls": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        if request.user_type not in KEPT:
            KEPT[request.user_type] = {LOOKUP}
        found = KEPT[request.user_type]""").replace("ASYNCIO = True", "ASYNCIO = True\nKEPT = {}"), IN_ORDER,
                                      ["asked again after lou was added", "ask the directory on every call"]),
    "big lists kept": (wrong(AIO, f"        found = {LOOKUP}", f"""\
        kept = self.__dict__.setdefault("kept", {{}})
        found = kept.get(request.user_type) or {LOOKUP}
        if len(found) > 100:  # "the big ones are worth keeping"
            kept[request.user_type] = found"""), IN_ORDER, ["USER_TYPE_DISABLED, asked again", "every call"]),
    "users without a mail left out": (wrong(AIO, "        for user in found:\n",
                                            "        for user in [u for u in found if u.mail_address]:\n"),
                                      EMPTY, ["ADMINISTRATOR → root, then the stream ended OK", "every user"]),
    "nicknames tidied": (wrong(AIO, "            yield users_pb2.UserResponse(user=user)\n",
                               "            user.nickname = user.nickname.strip()\n"
                               "            yield users_pb2.UserResponse(user=user)\n"), EMPTY,
                         ["came as", "nothing changed"]),
    "other types' users changed": (wrong(AIO, "            yield users_pb2.UserResponse(user=user)\n", """\
            if user.user_type != users_pb2.USER_TYPE_NORMAL:
                user = users_pb2.User(id=user.id, nickname=user.nickname, user_type=user.user_type)
            yield users_pb2.UserResponse(user=user)
"""), EMPTY, ["'root' came as", "nothing changed"]),
}


@pytest.mark.parametrize("mistake", AIO_WRONG)
def test_aio_wrong_answer_breaks_only_its_rule(mistake, tmp_path):
    source, rule, shown = AIO_WRONG[mistake]
    assert_breaks_only(check_aio(source, tmp_path), rule, shown)


def test_the_reference_grpclib_server_is_no_answer_to_9_1_but_the_checker_still_reports(tmp_path):
    """A module that is not grpc.aio at all (the grpclib reference) is judged by behaviour all the same."""
    result = check_aio("from workshop.servers.users_grpclib import GRPCLIB, add_to_server  # noqa: F401\n",
                       tmp_path)
    assert "Traceback" not in repr(result)
    assert failed(result) <= {NEVER_BLOCKS, ASYNC_DEF}, repr(result)  # it refuses, orders and streams like the answer


# ---------------------------------------------------------------- 9.2


def test_a_lookup_not_awaited_is_told_to_await_it(tmp_path):
    result = check_aio(wrong(AIO, "await asyncio.to_thread(", "asyncio.to_thread("), tmp_path)
    assert "without `await`" in result[IN_ORDER].hint, repr(result)


def test_an_empty_message_before_the_users_is_told_every_message_carries_one(tmp_path):
    first = wrong(AIO, "        if problem := users.problem_with_user_type(request.user_type):",
                  "        yield users_pb2.UserResponse()  # \"the stream has started\"\n"
                  "        if problem := users.problem_with_user_type(request.user_type):")
    result = check_aio(first, tmp_path)
    assert IN_ORDER in failed(result), repr(result)
    assert "every message carries a user" in result[IN_ORDER].hint, repr(result)
