"""check_get_user (4.1), check_add_user (4.2), check_nickname_of (4.3): each rule broken on its own by a wrong answer.

A wrong answer is the answer in solutions/ with one mistake put in; it must fail the case of the
rule it breaks, with a hint that names that rule, and pass every other case it can.
"""
import re
import textwrap

import grpc
import pytest
from exercises import answer, failed, skeleton, write_cell, wrong, wrong_in_places
from exercises import check_server_cell as check

import server_runner
from workshop.checkers import unary, unary_caller
from workshop.checkers.add_user import ADD_USER_RULES, EVERY_TYPE_HINT, INVALID_FIELDS, check_add_user
from workshop.checkers.support import run_checks
from workshop.checkers.unary import GET_USER_RULES, check_get_user
from workshop.checkers.unary_caller import RULES as NICKNAME_OF_RULES
from workshop.checkers.unary_caller import check_nickname_of
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers import users

GET_USER = "04_1_get_user.py"
ADD_USER = "04_2_add_user.py"

# ---------------------------------------------------------------- 4.1 GetUser

ID_CHECK = '''        problem = users.problem_with_id(request.id)  # below 1 can name nobody: a wrong request
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
'''
NOT_FOUND = "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))"

ANSWER_BODY = answer(GET_USER).split("context):\n", 1)[1].split("\n\n\n", 1)[0] + "\n"  # GetUser's lines
ID_CHECK_AFTER_THE_LOOKUP = wrong(GET_USER, ID_CHECK, "").replace(f"            {NOT_FOUND}", f"""\
            if request.id <= 0:  # the mistake: the id is checked only when the lookup found nobody
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, users.problem_with_id(request.id))
            {NOT_FOUND}""")
INVALID_ABORT = "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)"

GET_USER_WRONG = {  # mistake: (the answer with that one mistake, the rules it breaks, what the hint says)
    "partial user": (wrong(GET_USER, "return users_pb2.UserResponse(user=user)",
                           "return users_pb2.UserResponse(user=users_pb2.User(id=user.id, nickname=user.nickname))"),
                     {"found"}, "UserResponse(user=user)"),
    # the source article's way: OK and an empty user, which a caller may take for a user
    "OK for nobody": (wrong(GET_USER, NOT_FOUND, "return users_pb2.UserResponse()"), {"unknown"}, "NOT_FOUND"),
    "nameless NOT_FOUND": (wrong(GET_USER, "users.no_user_with(request.id)", '"user not found"'), {"unknown"},
                           "request.id"),
    "hard-coded id": (wrong(GET_USER, "users.no_user_with(request.id)", '"no user has id 404"'), {"unknown"},
                      "request.id"),
    # the id is not checked at all: the planted users 0 and -7 come back; no message to judge either
    "no id check": (wrong(GET_USER, ID_CHECK, ""), {"invalid", "invalid message"}, "even when the directory holds"),
    "id checked after the lookup": (ID_CHECK_AFTER_THE_LOOKUP, {"invalid", "invalid message"},
                                    "even when the directory holds"),
    # a refusal that does not end the call: an id nobody has falls through to the NOT_FOUND abort
    "set_code without ending the call": (wrong(GET_USER, INVALID_ABORT, """\
context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
            context.set_details(problem)"""), {"invalid", "invalid message"}, "set_code alone does not end"),
    "abort caught by except": (wrong(GET_USER, ID_CHECK, f"""        problem = users.problem_with_id(request.id)
        try:
            if problem:
                {INVALID_ABORT}
        except Exception:  # the mistake: this catches the exception abort raises to end the method
            pass
"""), {"invalid", "invalid message"}, "inside try/except Exception is caught"),
    "vague message": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace("problem)", '"invalid")')),
                      {"invalid message"}, "say what was wrong"),
    "empty message": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace("problem)", '"")')),
                      {"invalid message"}, "say what was wrong"),
    "NOT_FOUND's message for a wrong id": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace(
        "problem)", "users.no_user_with(request.id))")), {"invalid message"}, "say what was wrong"),
    "a message that names only the id": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace(
        "problem)", 'f"bad id {request.id}")')), {"invalid message"}, "say what was wrong"),
    "id 1 refused too": (wrong(GET_USER, "problem = users.problem_with_id(request.id)",
                               "problem = users.problem_with_id(request.id) or (\"an id must be above 1\" "
                               "if request.id <= 1 else None)"), {"found"}, "an id of 1 or more is a good one"),
    "nicknames tidied": (wrong(GET_USER, "return users_pb2.UserResponse(user=user)",
                               "user.nickname = user.nickname.strip().lower()\n"
                               "        return users_pb2.UserResponse(user=user)"), {"found"},
                         "UserResponse(user=user)"),
    # id 1 finds the planted id 0, and the unknown 2**63-1 the stored 2**63-2; (+ 1 would overflow at 2**63-1)
    "the id before looked up": (wrong(GET_USER, "self.directory.get(request.id)", "self.directory.get(request.id - 1)"),
                                {"found", "unknown"}, "look up the id that was asked for"),
    "NOT_FOUND for a wrong id": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace("INVALID_ARGUMENT", "NOT_FOUND")),
                                 {"invalid", "invalid message"}, "a wrong request is INVALID_ARGUMENT"),
    "UNAVAILABLE for nobody": (wrong(GET_USER, NOT_FOUND, NOT_FOUND.replace("NOT_FOUND", "UNAVAILABLE")), {"unknown"},
                               "UNAVAILABLE tells a caller 'the server cannot be reached now"),
    "a missing return": (wrong(GET_USER, "return users_pb2.UserResponse(user=user)",
                               "users_pb2.UserResponse(user=user)"), {"found", "at once"},
                         "where a `return` is missing"),
    "a sleep of 6 s": (wrong(GET_USER, "        return users_pb2", "        time.sleep(6)\n        return users_pb2"
                             ).replace("import grpc", "import time\n\nimport grpc"), {"found", "at once"},
                       "a time.sleep"),
    # int64 ids have no limit above: a user beyond 32 bits is in the checker's seed, and ids far past it nobody has
    "an upper limit of its own": (wrong(GET_USER, ID_CHECK, ID_CHECK + """\
        if request.id > 2**31 - 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "id too large")
"""), {"found", "unknown"}, "an id of 1 or more is a good one"),
    # the same at a float's 53 bits ("JavaScript clients cannot hold more")
    "a limit at 2**53": (wrong(GET_USER, ID_CHECK, ID_CHECK + """\
        if request.id > 2**53 - 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"id must be at most {2**53 - 1}; got {request.id}")
"""), {"found", "unknown"}, "an id of 1 or more is a good one"),
    # a JSON habit: past 2**53 a float finds the neighbour, which the seed holds
    "the id made a float": (wrong(GET_USER, "self.directory.get(request.id)", "self.directory.get(request.id * 1.0)"),
                            {"found"}, "made a float on the way"),
    # the message of no_user_with, given the request: "no user has id id: 73\n"
    "no_user_with given the request": (wrong(GET_USER, "users.no_user_with(request.id)", "users.no_user_with(request)"),
                                       {"unknown"}, "give it the id, request.id"),
    # one except around everything: it catches NOT_FOUND's and INVALID_ARGUMENT's aborts, and says INTERNAL
    "an except Exception around everything": (wrong(GET_USER, ANSWER_BODY, "        try:\n" + textwrap.indent(
        ANSWER_BODY, "    ") + """\
        except Exception as error:  # the mistake: "anything unexpected is INTERNAL"
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {error!r}")
"""), {"unknown", "invalid", "invalid message"}, "catches that very exception"),
    # the kit's message for id 0, copied: for -7 it names another id
    "a message copied for id 0": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace(
        "problem)", '"id must be a positive number; got 0")')), {"invalid message"},
        "build the message from request.id"),
    # what one call found, on self: a call that comes meanwhile overwrites it
    "the user kept on self": (wrong(GET_USER, "        user = self.directory.get(request.id)\n", """\
        self.user = self.directory.get(request.id)
        time.sleep(0.05)  # e.g. a log line
        user = self.user
""").replace("import grpc", "import time\n\nimport grpc"), {"at once"}, "not on self"),
    # the same with a print between, which is all the time another call needs
    "the user kept on self, printed": (wrong(GET_USER, "        user = self.directory.get(request.id)\n", """\
        self.user = self.directory.get(request.id)
        print(end="")  # e.g. a log line
        user = self.user
"""), {"at once"}, "not on self"),
    # an abort that the method catches: for id 0 (which the seed plants), it goes on to find nobody
    "an abort caught by except Exception": (wrong(GET_USER, INVALID_ABORT, f"""try:
                {INVALID_ABORT}
            except Exception:  # the mistake: this catches the exception abort raises
                pass"""), {"invalid", "invalid message"}, "try/except Exception"),
    # "improvements" that refuse what the rules let through
    "disabled users hidden": (wrong(GET_USER, "        if user is None:", "        if user is None or "
                                    "user.user_type == users_pb2.USER_TYPE_DISABLED:"), {"found"},
                              "of every user_type"),
    "a short deadline refused": (wrong(GET_USER, ID_CHECK, ID_CHECK + """\
        left = context.time_remaining()
        if left is not None and left < 2:  # the mistake: "too little time to answer well"
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline too short")
"""), {"short deadline"}, "the caller's deadline is the caller's to choose"),
    # the same before the id check, under a second, in grpc's own words: it came back long before the deadline
    "a deadline under 0.6 s refused in grpc's words": (wrong(GET_USER, ID_CHECK, """\
        left = context.time_remaining()
        if left is not None and left < 0.6:  # the mistake: "don't start work we can't finish"
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
""" + ID_CHECK), {"short deadline"}, "the caller's deadline is the caller's to choose"),
    "the nickname sent on in a trailer": (wrong(GET_USER, "        return users_pb2.UserResponse(user=user)", """\
        context.set_trailing_metadata([("x-nickname", user.nickname)])  # the mistake: metadata is ASCII only
        return users_pb2.UserResponse(user=user)"""), {"found"}, "metadata (headers and trailers) carries ASCII"),
    # a message built of the id and what problem_with_id said of it, which is None for a good id
    "a None in the message": (wrong(GET_USER, "users.no_user_with(request.id)",
                                    'f"user {request.id}: {users.problem_with_id(request.id)}"'), {"unknown"},
                              "a None made it into the text"),
    # what one call asked, on self or in the module: NOT_FOUND names the id of a call that came meanwhile
    "the id kept on self": (wrong_in_places(GET_USER, {
        ID_CHECK: "        self.asked = request.id  # the mistake: kept for the messages below\n" + ID_CHECK,
        NOT_FOUND: NOT_FOUND.replace("request.id", "self.asked")}), {"at once"}, "self.asked"),
    "the id in a global": (wrong_in_places(GET_USER, {
        ID_CHECK: "        global asked\n        asked = request.id  # the mistake: one for every call\n" + ID_CHECK,
        NOT_FOUND: NOT_FOUND.replace("request.id", "asked")}), {"at once"}, "a global"),
    # the problem on self: a wrong id's problem stops a good id's lookup, or a good id's None lets a wrong one through
    "the problem kept on self": (wrong(GET_USER, ID_CHECK + "        user = self.directory.get(request.id)\n", """\
        self.problem = users.problem_with_id(request.id)  # the mistake: one attribute for every call
        user = None if self.problem else self.directory.get(request.id)
        if self.problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, self.problem)
"""), {"at once"}, "self.problem"),
    # "no directory is that big": a shortcut that misses the user stored at 2**63-2
    "a shortcut for huge ids": (wrong(GET_USER, ID_CHECK, ID_CHECK + f"""\
        if request.id >= 2**62:  # the mistake: "save the query"
            {NOT_FOUND}
"""), {"found"}, "a shortcut of your own that answers NOT_FOUND for large ids"),
    # more than the rules' message: the hint names the text added, not the request
    "nearby ids added to NOT_FOUND's message": (wrong(GET_USER, "users.no_user_with(request.id)",
                                                      'users.no_user_with(request.id) + " (nearby ids: [])"'),
                                                {"unknown"}, "the text after it (' (nearby ids: [])')"),
    "OUT_OF_RANGE for a wrong id": (wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace("INVALID_ARGUMENT",
                                                                                        "OUT_OF_RANGE")),
                                    {"invalid", "invalid message"}, "a wrong request is INVALID_ARGUMENT"),
}


def test_get_user_skeleton_is_reported_as_not_done(tmp_path):
    result = check(check_get_user, skeleton(GET_USER), tmp_path)
    assert result.passed == 0 and len(result.cases) == len(GET_USER_RULES)
    assert all("not done yet" in case.got for case in result.cases)


@pytest.mark.parametrize("mistake", GET_USER_WRONG)
def test_get_user_wrong_answer_fails_only_the_rules_it_breaks(mistake, tmp_path):
    source, broken, hint = GET_USER_WRONG[mistake]
    result = check(check_get_user, source, tmp_path)
    assert failed(result) == {GET_USER_RULES[rule] for rule in broken}, repr(result)
    assert all(hint in result[GET_USER_RULES[rule]].hint for rule in broken), repr(result)


def test_get_user_abort_with_a_code_spelt_as_a_string_is_told_abort_takes_a_status_code(tmp_path):
    as_text = wrong(GET_USER, "context.abort(grpc.StatusCode.NOT_FOUND,", 'context.abort("NOT_FOUND",')
    result = check(check_get_user, as_text, tmp_path)
    unknown = result[GET_USER_RULES["unknown"]]
    assert "ended UNKNOWN with your server's own words" in unknown.got, repr(result)
    assert "grpc.StatusCode.NOT_FOUND" in unknown.hint and "server.logs()" not in unknown.hint
    assert "an `except Exception` around it catches that very exception" in unknown.hint  # UNKNOWN's other cause


def test_get_user_rules_each_have_a_wrong_answer():
    assert {rule for _, broken, _ in GET_USER_WRONG.values() for rule in broken} == set(GET_USER_RULES)


def test_get_user_answering_ok_for_an_unknown_id_reads_as_the_wrong_status(tmp_path):
    result = check(check_get_user, GET_USER_WRONG["OK for nobody"][0], tmp_path)
    assert "got OK with an empty reply; expected NOT_FOUND" in result[GET_USER_RULES["unknown"]].got


def test_get_user_message_naming_a_hard_coded_id_fails_on_an_id_the_notebook_never_shows(tmp_path):
    result = check(check_get_user, GET_USER_WRONG["hard-coded id"][0], tmp_path)
    assert "NOT_FOUND for id 73, but its message 'no user has id 404' does not name 73" in (
        result[GET_USER_RULES["unknown"]].got)


def test_get_user_looking_up_a_planted_id_zero_is_caught(tmp_path):
    """The checker's directory holds a user with id 0, so only a GetUser that refuses the id passes."""
    result = check(check_get_user, GET_USER_WRONG["no id check"][0], tmp_path)
    assert 'nickname: "ghost"' in result[GET_USER_RULES["invalid"]].got


def test_get_user_refusal_that_does_not_end_the_call_fails_on_an_id_nobody_has(tmp_path):
    result = check(check_get_user, GET_USER_WRONG["set_code without ending the call"][0], tmp_path)
    assert "got NOT_FOUND" in result[GET_USER_RULES["invalid"]].got and "-2" in result[GET_USER_RULES["invalid"]].got


def test_get_user_checking_the_id_after_a_lookup_it_ignores_passes(tmp_path):
    """The rule is what a caller can see: a lookup made before the id check, whose result waits, changes nothing."""
    looks_up_first = wrong(GET_USER, ID_CHECK + "        user = self.directory.get(request.id)\n",
                           "        user = self.directory.get(request.id)\n" + ID_CHECK)
    result = check(check_get_user, looks_up_first, tmp_path)
    assert result.all_passed, repr(result)


def test_get_user_slow_only_for_a_short_deadline_passes_as_a_deadline_that_really_passed(tmp_path):
    """A call whose short deadline passes before the answer (a busy laptop) says nothing of the method: no ✗."""
    slow = wrong(GET_USER, ID_CHECK, """\
        left = context.time_remaining()
        if left is not None and left < 1:
            time.sleep(0.6)  # as a loaded laptop might: the caller's deadline passes first
""" + ID_CHECK).replace("import grpc", "import time\n\nimport grpc")
    result = check(check_get_user, slow, tmp_path)
    assert result.all_passed, repr(result)


def test_get_user_vague_message_for_a_wrong_id_reads_as_saying_nothing(tmp_path):
    result = check(check_get_user, GET_USER_WRONG["vague message"][0], tmp_path)
    assert "its message 'invalid' does not say what is wrong with the id (a good id is 1 or more)" in (
        result[GET_USER_RULES["invalid message"]].got)


def test_get_user_message_for_a_wrong_id_that_says_nobody_has_it_reads_as_the_wrong_cause(tmp_path):
    result = check(check_get_user, GET_USER_WRONG["NOT_FOUND's message for a wrong id"][0], tmp_path)
    assert "its message 'no user has id 0' says that nobody has the id, not that the id itself is wrong" in (
        result[GET_USER_RULES["invalid message"]].got)


@pytest.mark.parametrize("message", ['f"the id must be at least 1; got {request.id}"', 'f"id {request.id} is negative"',
                                     '"ids start at 1: this one is below 1"', '"id must be > 0"'])
def test_get_user_message_in_a_learners_own_words_passes(message, tmp_path):
    own_words = wrong(GET_USER, INVALID_ABORT, INVALID_ABORT.replace("problem)", message + ")"))
    result = check(check_get_user, own_words, tmp_path)
    assert result.all_passed, repr(result)


def test_get_user_exception_in_the_server_is_reported_with_its_line(tmp_path):
    result = check(check_get_user, wrong(GET_USER, "user = self.directory.get(request.id)",
                                         "user = self.directory._users[request.id]"), tmp_path)
    assert result.passed == 2  # only the id checks still work
    assert result[GET_USER_RULES["found"]].got == (
        "your server raised AttributeError: 'UserDirectory' object has no attribute '_users' "
        "(my_get_user.py, line 13, in GetUser)")


def test_get_user_answer_passes_every_case(tmp_path):
    result = check(check_get_user, answer(GET_USER), tmp_path)
    assert result.all_passed, repr(result)


def test_get_user_answer_passes_when_given_an_address(tmp_path):
    with server_runner.start(str(write_cell(answer(GET_USER), tmp_path))) as server:
        result = check_get_user(server.address)
    assert result.all_passed, repr(result)


def test_get_user_verdict_ignores_what_the_learner_stored_before(tmp_path):
    with server_runner.start(str(write_cell(answer(GET_USER), tmp_path))) as server, server.channel() as channel:
        users_pb2_grpc.UserManagerStub(channel).AddUser(users_pb2.User(
            id=unary.UNKNOWN_IDS[0], nickname="stored_before", mail_address="s@example.com", user_type=1), timeout=5)
        result = check_get_user(server)  # an id the checker takes as unknown; it checks a fresh copy
    assert result.all_passed, repr(result)


def test_get_user_stopped_server_is_reported_as_not_running(tmp_path):
    server = server_runner.start(str(write_cell(answer(GET_USER), tmp_path)))
    server.stop()
    result = check_get_user(server)
    assert result.passed == 0
    assert all(case.got == "your server is not running" for case in result.cases)


def test_get_user_module_broken_since_the_server_started_is_reported(tmp_path):
    path = write_cell(answer(GET_USER), tmp_path)
    with server_runner.start(str(path)) as server:
        path.write_text("this is not python\n")
        result = check_get_user(server)
    assert result.passed == 0
    assert all(case.got.startswith("your module does not start as it is now") for case in result.cases)
    assert "Traceback" not in repr(result)


# ---------------------------------------------------------------- 4.2 AddUser

VALIDATION = "mistake = users.problem_with_new_user(request)"
CHECK_FIELDS = f'''        {VALIDATION}  # every field, before anything is stored
        if mistake:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, mistake)
'''
REFUSAL = "context.abort(grpc.StatusCode.INVALID_ARGUMENT, mistake)"
ADD = "stored = self.directory.add(request)"
REPLY = "        return users_pb2.UserResponse(user=stored)"

# One check forgotten at a time: (field rule, the problem let through, the field, a value that passes)
FORGETS = {
    INVALID_FIELDS[0][0]: ("request.id < 0", "id", "0"),
    INVALID_FIELDS[1][0]: ("not request.nickname.strip()", "nickname", '"x"'),
    INVALID_FIELDS[2][0]: ("len(request.nickname) > users.MAX_NICKNAME", "nickname", '"x"'),
    INVALID_FIELDS[3][0]: ('not all(request.mail_address.rpartition("@")[::2])', "mail_address", '"x@example.com"'),
    INVALID_FIELDS[4][0]: ("len(request.mail_address) > users.MAX_MAIL_ADDRESS", "mail_address", '"x@example.com"'),
    INVALID_FIELDS[5][0]: ("request.user_type == users_pb2.USER_TYPE_UNSPECIFIED", "user_type", "1"),
    INVALID_FIELDS[6][0]: ("request.user_type not in users_pb2.UserType.values()", "user_type", "1"),
}
MAIL_FORM = INVALID_FIELDS[3][0]


def lets_through(problem: str, field: str, passing: str) -> str:
    """The answer, but its check of the fields never sees a problem where `problem` holds."""
    return wrong(ADD_USER, VALIDATION, f"""checked = users_pb2.User()
        checked.CopyFrom(request)
        if {problem}:
            checked.{field} = {passing}  # the mistake: this problem goes unchecked
        mistake = users.problem_with_new_user(checked)""")


def refuses_also(condition: str, message: str) -> str:
    """The answer, with one more refusal of its own after the kit's checks."""
    return wrong(ADD_USER, CHECK_FIELDS, CHECK_FIELDS + f"""        if {condition}:  # the mistake: the rules allow it
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, {message})
""")


FIELD_HINTS = {rule: hint for rule, _, _, hint in INVALID_FIELDS}


def test_add_user_rules_cover_every_field_of_the_checker():
    assert set(FORGETS) == {rule for rule, *_ in INVALID_FIELDS}


def test_add_user_skeleton_is_reported_as_not_done(tmp_path):
    result = check(check_add_user, skeleton(ADD_USER), tmp_path)
    assert result.passed == 0 and len(result.cases) == len(ADD_USER_RULES) + len(INVALID_FIELDS)
    assert all("not done yet" in case.got for case in result.cases)


@pytest.mark.parametrize("rule", FORGETS, ids=lambda rule: rule.split(" →")[0])
def test_add_user_forgetting_one_field_check_fails_only_its_case(rule, tmp_path):
    result = check(check_add_user, lets_through(*FORGETS[rule]), tmp_path)
    assert failed(result) == {rule}, repr(result)
    assert re.search("got OK with .*expected INVALID_ARGUMENT", result[rule].got)
    assert result[rule].hint == FIELD_HINTS[rule]


# Refusals of one's own, on top of the kit's checks, of users the rules let through: (the refusal, the rules it breaks)
STRICTER = {
    "no '+' in a mail_address": (refuses_also('"+" in request.mail_address', '"no + please"'), {"valid"}),
    "no nickname that starts with a digit": (refuses_also("request.nickname[:1].isdigit()", '"letters first"'),
                                             {"valid"}),
    "the nickname's limit in bytes": (refuses_also("len(request.nickname.encode()) > users.MAX_NICKNAME",
                                                   '"nickname too long"'), {"valid"}),
    "the mail_address's limit in bytes": (refuses_also("len(request.mail_address.encode()) > users.MAX_MAIL_ADDRESS",
                                                       '"mail_address too long"'), {"valid"}),
    "ids of 32 bits only": (refuses_also("request.id > 2**31 - 1", '"id too large"'), {"chosen id"}),
    "ids of 53 bits only": (refuses_also("request.id > 2**53 - 1", 'f"id must be at most {2**53 - 1}"'),
                            {"chosen id"}),
    "the largest id kept back": (refuses_also("request.id == 2**63 - 1", '"that id is reserved"'), {"chosen id"}),
    "no character beyond U+FFFF": (refuses_also("any(ord(c) > 0xFFFF for c in request.nickname)",
                                                '"no 4-byte characters"'), {"valid"}),
    "only printable nicknames": (refuses_also("not request.nickname.isprintable()", '"nickname must be printable"'),
                                 {"valid"}),
    "no invisible format characters": (refuses_also("'\\u200b' in request.nickname", '"no zero-width spaces"'),
                                       {"valid"}),
    "no '@' in a nickname": (refuses_also('"@" in request.nickname', '"nickname may not hold an @"'), {"valid"}),
    "domain labels of 63 characters at most": (refuses_also(
        'any(len(label) > 63 for label in request.mail_address.rpartition("@")[2].split("."))',
        '"a domain label is limited to 63 characters"'), {"valid"}),
}


@pytest.mark.parametrize("mistake", STRICTER)
def test_add_user_that_refuses_more_than_the_rules_fails_the_cases_of_what_it_refuses(mistake, tmp_path):
    source, rules = STRICTER[mistake]
    result = check(check_add_user, source, tmp_path)
    assert failed(result) == {ADD_USER_RULES[rule] for rule in rules}, repr(result)
    assert all("was refused: INVALID_ARGUMENT" in result[ADD_USER_RULES[rule]].got for rule in rules), repr(result)


@pytest.mark.parametrize("under", ["2", "0.5"])
def test_add_user_that_refuses_a_short_deadline_is_told_the_deadline_is_the_callers(under, tmp_path):
    refuses = wrong(ADD_USER, CHECK_FIELDS, CHECK_FIELDS + f"""\
        left = context.time_remaining()
        if left is not None and left < {under}:  # the mistake: "too little time to store it well"
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline too short")
""")
    result = check(check_add_user, refuses, tmp_path)
    assert failed(result) == {ADD_USER_RULES["short deadline"]}, repr(result)
    got = result[ADD_USER_RULES["short deadline"]].got
    assert "a valid user, with a deadline of 0.4 s → DEADLINE_EXCEEDED" in got and "'deadline too short'" in got
    assert "the caller's deadline is the caller's to choose" in result[ADD_USER_RULES["short deadline"]].hint


def test_add_user_that_checks_the_fields_only_for_id_0_is_told_to_check_a_chosen_id_too(tmp_path):
    skips = wrong(ADD_USER, VALIDATION, "mistake = users.problem_with_new_user(request) if request.id <= 0 else None")
    result = check(check_add_user, skips, tmp_path)
    fields = [rule for rule, values, *_ in INVALID_FIELDS if all("id" not in fields for fields in values)]
    assert len(fields) == 6 and failed(result) == set(fields), repr(result)
    for rule in fields:
        assert re.match(r"with id \d+ chosen: got OK", result[rule].got), repr(result)
        assert "check every field whatever the id" in result[rule].hint


def test_add_user_with_an_except_exception_that_says_internal_is_told_it_caught_the_abort(tmp_path):
    source = answer(ADD_USER)
    body = source[source.index("        mistake ="):source.index("        return")]
    broad = wrong(ADD_USER, body, "        try:\n" + textwrap.indent(body, "    ") + """\
        except Exception as error:  # the mistake: "anything unexpected is INTERNAL"
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {error!r}")
""")
    result = check(check_add_user, broad, tmp_path)
    # every abort is caught: the refusals', and ALREADY_EXISTS's inside it
    refusals = {rule for rule, *_ in INVALID_FIELDS} | {ADD_USER_RULES[rule] for rule in ("short", "not stored",
                                                                                           "taken")}
    assert failed(result) == refusals, repr(result)
    for rule in refusals:
        assert "got INTERNAL: internal error: Exception()" in result[rule].got, repr(result)
        assert "context.abort ends the method by raising an exception" in result[rule].hint, repr(result)
        assert "what the except does next (INTERNAL)" in result[rule].hint, repr(result)


def test_add_user_that_sends_the_mail_address_in_a_trailer_is_told_metadata_is_ascii_only(tmp_path):
    trailer = wrong(ADD_USER, REPLY, """\
        context.set_trailing_metadata([("x-mail-address", stored.mail_address)])  # the mistake: ASCII only
""" + REPLY)
    result = check(check_add_user, trailer, tmp_path)
    assert failed(result) == {ADD_USER_RULES["valid"]}, repr(result)
    assert "not in ASCII was stored, yet the call failed with INTERNAL: Invalid metadata" in (
        result[ADD_USER_RULES["valid"]].got)
    assert "metadata (headers and trailers) carries ASCII text only" in result[ADD_USER_RULES["valid"]].hint


def test_add_user_that_answers_ok_to_the_same_user_sent_again_fails_the_taken_case(tmp_path):
    retried = wrong(ADD_USER, "            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))", """\
            same = self.directory.get(request.id)
            if same is not None and same == request:  # the mistake: "only a retry", answered OK
                return users_pb2.UserResponse(user=same)
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))""")
    result = check(check_add_user, retried, tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "the very same user sent again is taken too" in result[ADD_USER_RULES["taken"]].hint


def test_add_user_that_lets_administrators_skip_the_checks_fails_each_field_case_naming_the_type(tmp_path):
    skips = wrong(ADD_USER, VALIDATION, "mistake = (users.problem_with_new_user(request) if request.user_type != "
                                        "users_pb2.USER_TYPE_ADMINISTRATOR else None)")
    result = check(check_add_user, skips, tmp_path)
    fields = [rule for rule, values, *_ in INVALID_FIELDS if all("user_type" not in fields for fields in values)]
    assert len(fields) == 5 and failed(result) == set(fields), repr(result)
    for rule in fields:
        assert result[rule].got.startswith("as USER_TYPE_ADMINISTRATOR: got OK"), repr(result)
        assert result[rule].hint == EVERY_TYPE_HINT


def test_add_user_mail_check_that_only_looks_for_an_at_sign_fails_the_form_case(tmp_path):
    """'"@" not in mail_address' refuses 'carla.example.com', but would store '@', 'a@' and '@b'."""
    only_the_at = lets_through(f'"@" in request.mail_address and {FORGETS[MAIL_FORM][0]}', "mail_address",
                               '"x@example.com"')
    result = check(check_add_user, only_the_at, tmp_path)
    assert failed(result) == {MAIL_FORM}, repr(result)
    assert re.search("got OK with .*expected INVALID_ARGUMENT", result[MAIL_FORM].got)
    assert "before and after its last '@'" in result[MAIL_FORM].hint


@pytest.mark.parametrize("mail", ["@", "a@", "@b"])
def test_add_user_each_half_address_is_tried_on_its_own(mail, tmp_path):
    result = check(check_add_user, lets_through(f"request.mail_address == {mail!r}", "mail_address", '"x@example.com"'),
                   tmp_path)
    assert failed(result) == {MAIL_FORM}, repr(result)


def test_add_user_message_that_names_nothing_fails_every_field_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, REFUSAL, REFUSAL.replace("mistake)", '"invalid")')), tmp_path)
    assert failed(result) == set(FIELD_HINTS), repr(result)
    assert all("its message 'invalid' does not name" in result[rule].got for rule in FIELD_HINTS)
    assert "which field" in result[INVALID_FIELDS[0][0]].hint


def test_add_user_message_without_the_limit_fails_its_case_saying_so(tmp_path):
    no_limit = wrong(ADD_USER, REFUSAL, REFUSAL.replace("mistake)", 'mistake.replace("; the limit is 32", ""))'))
    result = check(check_add_user, no_limit, tmp_path)
    rule = INVALID_FIELDS[2][0]
    assert failed(result) == {rule}, repr(result)
    assert result[rule].got == (
        "INVALID_ARGUMENT, but its message 'nickname is 33 characters long' does not give the limit (32)")


@pytest.mark.parametrize("echo", [
    'f"{mistake}; you sent: {request}"',
    'f"bad user {request.nickname!r} <{request.mail_address}>: {mistake}"',
], ids=["the whole request", "nickname and mail_address"])
def test_add_user_message_that_echoes_what_was_sent_fails_only_the_short_case(echo, tmp_path):
    result = check(check_add_user, wrong(ADD_USER, REFUSAL, REFUSAL.replace("mistake)", f"{echo})")), tmp_path)
    assert failed(result) == {ADD_USER_RULES["short"]}, repr(result)
    assert "and holds it whole" in result[ADD_USER_RULES["short"]].got
    assert "users.quoted" in result[ADD_USER_RULES["short"]].hint


@pytest.mark.parametrize("condition, message", [
    ("request.user_type == users_pb2.USER_TYPE_GUEST", '"guests cannot be added"'),
    ("len(request.nickname) >= users.MAX_NICKNAME", '"nickname is too long; the limit is 32"'),
    ("len(request.mail_address) >= users.MAX_MAIL_ADDRESS", '"mail_address is too long; the limit is 254"'),
    ('" " in request.nickname', '"nickname has a space"'),
    ("request.nickname != request.nickname.lower()", '"nickname must be lowercase"'),
    ('request.mail_address.count("@") != 1', '"mail_address needs exactly one @"'),
    ("not request.nickname.isascii()", '"nickname must be ASCII"'),
    ('"." not in request.mail_address.split("@")[-1]', '"mail_address domain needs a dot"'),
    ("request.mail_address != request.mail_address.lower()", '"mail_address must be lowercase"'),
], ids=["refuses guests", "nickname limit off by one", "mail_address limit off by one", "refuses spaces",
        "refuses capitals", "refuses two at signs", "refuses non-ASCII", "wants a dot in the domain",
        "refuses capitals in the mail_address"])
def test_add_user_refusing_a_valid_user_fails_only_the_valid_case(condition, message, tmp_path):
    result = check(check_add_user, refuses_also(condition, message), tmp_path)
    assert failed(result) == {ADD_USER_RULES["valid"]}, repr(result)
    assert f"was refused: INVALID_ARGUMENT: {message[1:-1]}" in result[ADD_USER_RULES["valid"]].got
    assert "every user it lets through" in result[ADD_USER_RULES["valid"]].hint


@pytest.mark.parametrize("change, shown", [
    ("request.nickname = request.nickname.lower()", "a nickname with spaces and capitals: sent ' Ada Lovelace"),
    ("request.nickname = request.nickname.strip()", "a nickname with spaces and capitals: sent ' Ada Lovelace"),
    ("request.mail_address = request.mail_address.lower()", "spaces around it and no dot after the '@': sent"),
    ("request.mail_address = request.mail_address.strip()", "spaces around it and no dot after the '@': sent"),
    ("request.nickname = __import__('unicodedata').normalize('NFKC', request.nickname)",
     "a nickname with the ligature 'ﬁ': sent 'ﬁona"),
], ids=["nickname lowercased", "nickname stripped", "mail_address lowercased", "mail_address stripped",
        "nickname NFKC-normalised"])
def test_add_user_storing_something_else_than_was_sent_fails_only_the_valid_case(change, shown, tmp_path):
    result = check(check_add_user, wrong(ADD_USER, f"            {ADD}", f"            {change}  # the mistake\n"
                                                                        f"            {ADD}"), tmp_path)
    assert failed(result) == {ADD_USER_RULES["valid"]}, repr(result)
    assert shown in result[ADD_USER_RULES["valid"]].got
    assert "do not change what the caller sent" in result[ADD_USER_RULES["valid"]].hint


def test_add_user_refusing_a_chosen_free_id_fails_only_the_chosen_id_case_with_a_hint(tmp_path):
    result = check(check_add_user, refuses_also("request.id > 1000", '"id too large"'), tmp_path)
    assert failed(result) == {ADD_USER_RULES["chosen id"]}, repr(result)
    assert "which no user has, was refused: INVALID_ARGUMENT: id too large" in result[ADD_USER_RULES["chosen id"]].got
    assert "any id above 0 that no user has is free" in result[ADD_USER_RULES["chosen id"]].hint


def test_add_user_letting_already_exists_escape_fails_the_taken_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, TRY_ADD, f"        {ADD}\n"), tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"], ADD_USER_RULES["at once"]}, repr(result)
    got = result[ADD_USER_RULES["taken"]].got
    assert got.startswith("your server raised ") and "AlreadyExists: a user with id 1 already exists" in got
    assert "users.AlreadyExists escaped" in result[ADD_USER_RULES["at once"]].hint


TRY_ADD = """        try:
            stored = self.directory.add(request)  # id 0: the directory picks the next free id
        except users.AlreadyExists as taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))
"""
CHECKS_THEN_STORES = """        if request.id and (holder := self.directory.get(request.id)):  # the mistake
            context.abort(grpc.StatusCode.ALREADY_EXISTS,
                          f"a user with id {request.id} already exists ({users.quoted(holder.nickname)})")
        for kind in users_pb2.UserType.values():
            for user in self.directory.of_type(kind):
                if user.nickname == request.nickname:
                    context.abort(grpc.StatusCode.ALREADY_EXISTS,
                                  f"the nickname {users.quoted(user.nickname)} is taken (by user {user.id})")
        stored = self.directory.add(request)  # nothing catches what it raises: the check was made
"""


def test_add_user_checking_before_storing_leaves_a_gap_that_two_calls_at_once_find(tmp_path):
    """Its own check answers the "taken" case in the exception's words; two calls at once both pass it."""
    result = check(check_add_user, wrong(ADD_USER, TRY_ADD, CHECKS_THEN_STORES), tmp_path)
    assert failed(result) == {ADD_USER_RULES["at once"]}, repr(result)
    assert "two users with the same nickname at once: OK and UNKNOWN, saying \"Exception calling" in (
        result[ADD_USER_RULES["at once"]].got)
    assert "a check of your own before add" in result[ADD_USER_RULES["at once"]].hint


def test_add_user_taken_as_the_wrong_code_fails_the_taken_case(tmp_path):
    taken_as_invalid = wrong(ADD_USER, "grpc.StatusCode.ALREADY_EXISTS", "grpc.StatusCode.INVALID_ARGUMENT")
    result = check(check_add_user, taken_as_invalid, tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "users.AlreadyExists" in result[ADD_USER_RULES["taken"]].hint


def test_add_user_taken_with_a_message_that_names_nothing_fails_the_taken_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "ALREADY_EXISTS, str(taken)", 'ALREADY_EXISTS, "already exists"'),
                   tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "does not say that id 1 is taken" in result[ADD_USER_RULES["taken"]].got
    assert "str(error)" in result[ADD_USER_RULES["taken"]].hint


def test_add_user_taken_with_the_exceptions_repr_fails_the_taken_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "ALREADY_EXISTS, str(taken)", "ALREADY_EXISTS, repr(taken)"),
                   tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "the exception's text is \"a user with id 1 already exists" in result[ADD_USER_RULES["taken"]].got
    assert "str(error)" in result[ADD_USER_RULES["taken"]].hint


@pytest.mark.parametrize("code", ["ALREADY_EXISTS", "FAILED_PRECONDITION"])
def test_add_user_refusing_a_wrong_field_with_another_code_is_told_the_code(code, tmp_path):
    result = check(check_add_user, wrong(ADD_USER, REFUSAL, REFUSAL.replace("INVALID_ARGUMENT", code)), tmp_path)
    invalid_rules = [rule for rule, *_ in INVALID_FIELDS]
    assert set(invalid_rules) <= failed(result), repr(result)
    assert all("a field that is wrong" in result[rule].hint and "INVALID_ARGUMENT" in result[rule].hint
               for rule in invalid_rules), repr(result)


def test_add_user_abort_with_no_message_is_reported_as_an_exception_in_the_server(tmp_path):
    inverted = wrong(ADD_USER, "        if mistake:\n", "        if not mistake:\n")
    result = check(check_add_user, inverted, tmp_path)
    chosen = result[ADD_USER_RULES["chosen id"]]
    assert "your server raised an exception" in chosen.got and "server.logs()" in chosen.hint, repr(result)


def test_add_user_taken_called_invalid_fails_the_taken_case(tmp_path):
    calls_it_invalid = wrong(ADD_USER, "ALREADY_EXISTS, str(taken)", 'ALREADY_EXISTS, f"invalid user: {taken}"')
    result = check(check_add_user, calls_it_invalid, tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "calls the user invalid" in result[ADD_USER_RULES["taken"]].got


def test_add_user_with_one_except_around_everything_is_told_it_catches_the_abort(tmp_path):
    source = answer(ADD_USER)
    checks_then_stores = source[source.index("        mistake ="):source.index("        return")]
    broad = wrong(ADD_USER, checks_then_stores, """        try:
            mistake = users.problem_with_new_user(request)
            if mistake:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, mistake)
            stored = self.directory.add(request)
        except Exception as error:  # meant for AlreadyExists: it catches the abort's exception too
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(error))
""")
    result = check(check_add_user, broad, tmp_path)
    invalid_rules = [rule for rule, *_ in INVALID_FIELDS]
    assert set(invalid_rules) <= failed(result), repr(result)
    assert all("catch only users.AlreadyExists" in result[rule].hint for rule in invalid_rules), repr(result)


def test_get_user_not_found_that_calls_the_id_invalid_fails_the_unknown_case(tmp_path):
    says_invalid = wrong(GET_USER, "users.no_user_with(request.id)", 'f"id {request.id} is invalid: must be positive"')
    result = check(check_get_user, says_invalid, tmp_path)
    assert failed(result) == {GET_USER_RULES["unknown"]}, repr(result)
    assert "says the id is wrong" in result[GET_USER_RULES["unknown"]].got


def test_add_user_storing_before_checking_fails_only_the_no_trace_case(tmp_path):
    stores_first = wrong(ADD_USER, CHECK_FIELDS, "").replace(REPLY, CHECK_FIELDS + REPLY)
    result = check(check_add_user, stores_first, tmp_path)
    assert failed(result) == {ADD_USER_RULES["not stored"]}, repr(result)
    assert "yet GetUser(" in result[ADD_USER_RULES["not stored"]].got
    assert "check every field before self.directory.add" in result[ADD_USER_RULES["not stored"]].hint


def test_add_user_abort_swallowed_by_except_fails_only_the_no_trace_case_naming_the_except(tmp_path):
    """abort raises to end the method; caught, the method stores the user, yet the caller reads INVALID_ARGUMENT."""
    swallows = wrong(ADD_USER, CHECK_FIELDS, f'''        {VALIDATION}
        try:
            if mistake:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, mistake)
        except Exception:  # the mistake: this catches the exception abort raises to end the method
            pass
''')
    result = check(check_add_user, swallows, tmp_path)
    assert failed(result) == {ADD_USER_RULES["not stored"]}, repr(result)
    assert "inside try/except Exception is caught" in result[ADD_USER_RULES["not stored"]].hint


def test_add_user_replying_with_the_request_misses_the_new_id(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "UserResponse(user=stored)", "UserResponse(user=request)"), tmp_path)
    assert failed(result) == {ADD_USER_RULES["new id"]}, repr(result)
    assert "expected a new positive id" in result[ADD_USER_RULES["new id"]].got


def test_add_user_dropping_a_chosen_id_fails_only_the_chosen_id_case(tmp_path):
    drops_the_id = wrong(ADD_USER, f"            {ADD}", f'''\
            if request.id and self.directory.get(request.id):
                self.directory.add(request)  # raises the kit's AlreadyExists
            request.id = 0  # the mistake: every new user gets an id of the server's choosing
            {ADD}''')
    result = check(check_add_user, drops_the_id, tmp_path)
    assert failed(result) == {ADD_USER_RULES["chosen id"]}, repr(result)
    assert "only id 0 asks the server to choose" in result[ADD_USER_RULES["chosen id"]].hint


def test_add_user_answer_passes_every_case_and_again_on_the_same_server(tmp_path):
    with server_runner.start(str(write_cell(answer(ADD_USER), tmp_path))) as server:
        first, second, by_address = check_add_user(server), check_add_user(server), check_add_user(server.address)
    assert first.all_passed, repr(first)
    assert second.all_passed and by_address.all_passed, repr(second) + repr(by_address)
    assert repr(first) == repr(second)  # stable labels: the stored output does not change between runs


# ---------------------------------------------------------------- 4.3 a careful caller (optional)

NICKNAME_OF = "04_3_nickname_of.py"


def caller(source: str):
    """The function a cell defines, run as the notebook runs it: grpc and users_pb2 come from its first cell."""
    namespace = {"grpc": grpc, "users_pb2": users_pb2}
    exec(source, namespace)
    return namespace["nickname_of"]


NOT_FOUND_ONLY = "        if error.code() == grpc.StatusCode.NOT_FOUND:\n            return None"


def none_also_for(*codes: str) -> str:
    """The answer, but it returns None for these codes too, as for NOT_FOUND."""
    listed = ", ".join(f"grpc.StatusCode.{code}" for code in ("NOT_FOUND", *codes))
    return wrong(NICKNAME_OF, NOT_FOUND_ONLY, f"        if error.code() in ({listed}):\n            return None")


NICKNAME_OF_WRONG = {  # rule broken: the answer with that one mistake
    "found": wrong(NICKNAME_OF, "return reply.user.nickname", "return reply.user.mail_address"),
    "unknown": wrong(NICKNAME_OF, "return None  #", "raise  #"),
    # a wrong id, with nothing else that fails, looks like a missing user
    "other errors": none_also_for("INVALID_ARGUMENT"),
    "gone": none_also_for("UNAVAILABLE"),
    "deadline": wrong(NICKNAME_OF, ", timeout=1)", ")"),
    # "thread-safe": one call at a time, so each waits for every call before it
    "threads": "import threading\n\nLOCK = threading.Lock()\n\n\n" + wrong(
        NICKNAME_OF, "        reply = stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
        "        with LOCK:  # the mistake\n            reply = stub.GetUser(users_pb2.UserRequest(id=user_id), "
        "timeout=1)"),
}
NICKNAME_OF_HINTS = {"found": "reply.user.nickname", "unknown": "return None", "other errors": "`raise`",
                     "gone": "a server that is gone is not a missing user", "deadline": "timeout=1",
                     "threads": "a lock or semaphore held around the call"}


def test_nickname_of_rules_each_have_a_wrong_answer():
    assert set(NICKNAME_OF_WRONG) == set(NICKNAME_OF_RULES)


def test_nickname_of_skeleton_is_reported_as_not_done():
    result = check_nickname_of(caller(skeleton(NICKNAME_OF)))
    assert result.passed == 0 and len(result.cases) == len(NICKNAME_OF_RULES)
    assert all(case.got.startswith("not done yet") for case in result.cases)


@pytest.mark.parametrize("rule", NICKNAME_OF_WRONG)
def test_nickname_of_wrong_answer_fails_only_the_rule_it_breaks(rule):
    result = check_nickname_of(caller(NICKNAME_OF_WRONG[rule]))
    assert failed(result) == {NICKNAME_OF_RULES[rule]}, repr(result)
    assert NICKNAME_OF_HINTS[rule] in result[NICKNAME_OF_RULES[rule]].hint, repr(result)


def test_nickname_of_without_a_deadline_is_told_how_long_it_waited():
    result = check_nickname_of(caller(NICKNAME_OF_WRONG["deadline"]))
    assert result[NICKNAME_OF_RULES["deadline"]].got == (
        "it waited 4 s for a server that did not answer; expected about 1 s")


def test_nickname_of_answer_passes_every_case():
    result = check_nickname_of(caller(answer(NICKNAME_OF)))
    assert result.all_passed, repr(result)
    assert "Traceback" not in repr(result)


def test_nickname_of_reading_every_failure_as_no_such_user_fails_each_failure_case():
    """The mistake rule 3 of the notebook names: a server gone or too slow read as 'no such user'."""
    result = check_nickname_of(caller(wrong(NICKNAME_OF, NOT_FOUND_ONLY, "        return None")))
    assert failed(result) == {NICKNAME_OF_RULES[rule] for rule in ("other errors", "gone", "deadline")}, repr(result)


def test_nickname_of_returning_none_for_a_deadline_fails_only_the_deadline_case():
    result = check_nickname_of(caller(none_also_for("DEADLINE_EXCEEDED", "UNAVAILABLE")))
    assert failed(result) == {NICKNAME_OF_RULES["gone"], NICKNAME_OF_RULES["deadline"]}, repr(result)
    result = check_nickname_of(caller(none_also_for("DEADLINE_EXCEEDED")))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)
    assert result[NICKNAME_OF_RULES["deadline"]].got == (
        "for a server that does not answer, nickname_of gave None; expected its DEADLINE_EXCEEDED to rise")


def test_nickname_of_with_a_deadline_far_too_short_fails_only_the_deadline_case():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, ", timeout=1)", ", timeout=0.2)")))
    found = NICKNAME_OF_RULES["found"]  # 400 calls from 16 threads: on a loaded CI, one may take 0.2 s
    assert {NICKNAME_OF_RULES["deadline"]} <= failed(result) <= {NICKNAME_OF_RULES["deadline"], found}, repr(result)
    assert result[NICKNAME_OF_RULES["deadline"]].got.startswith("it gave up after 0.2")
    assert found not in failed(result) or "timeout=1" in result[found].hint, repr(result)


def test_nickname_of_whose_deadline_passes_before_a_server_that_answers_can_is_told_to_give_it_a_second():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, ", timeout=1)", ", timeout=0.00001)")))
    found = result[NICKNAME_OF_RULES["found"]]
    assert not found.passed, repr(result)
    assert found.got.startswith("nickname_of let DEADLINE_EXCEEDED rise from a server that answers"), repr(result)
    assert "timeout=1" in found.hint, repr(result)


def test_nickname_of_wrapping_the_rpc_error_is_told_to_re_raise_it():
    wraps = wrong(NICKNAME_OF, "raise  # any", 'raise RuntimeError(f"GetUser failed: {error.code()}")  # any')
    result = check_nickname_of(caller(wraps))
    assert failed(result) == {NICKNAME_OF_RULES[rule] for rule in ("other errors", "gone", "deadline")}, repr(result)
    assert "raised RuntimeError: GetUser failed: StatusCode.INVALID_ARGUMENT in place of the RpcError" in (
        result[NICKNAME_OF_RULES["other errors"]].got)
    assert "bare `raise`" in result[NICKNAME_OF_RULES["other errors"]].hint


def test_nickname_of_that_ignores_the_stub_it_is_given_fails_the_found_case():
    """Another server over data/users.json, as the learner's own channel would reach, answers other nicknames."""
    with unary_caller.serving(users.UserManager(users.UserDirectory(seed=users.DEFAULT_SEED))) as own:
        answer_function = caller(answer(NICKNAME_OF))
        result = check_nickname_of(lambda stub, user_id: answer_function(own, user_id))
    # The other cases hand it stubs that cannot give a nickname: one whose server is gone, one that is silent.
    assert failed(result) == {NICKNAME_OF_RULES[rule] for rule in ("found", "other errors", "gone", "deadline")
                              }, repr(result)
    assert "the nickname of another server" in result[NICKNAME_OF_RULES["found"]].got
    assert "for a server that is gone, nickname_of gave 'alice': that came from another server" in (
        result[NICKNAME_OF_RULES["gone"]].got)
    assert all("its parameter `stub`: not on the notebook's stub" in result[NICKNAME_OF_RULES[rule]].hint
               for rule in ("found", "other errors", "gone", "deadline")), repr(result)
    assert "yet it never asked that server" in result[NICKNAME_OF_RULES["other errors"]].got, repr(result)


@pytest.mark.parametrize("mistake", [
    none_also_for("UNKNOWN", "INTERNAL"), none_also_for("PERMISSION_DENIED", "UNAUTHENTICATED"),
    wrong(NICKNAME_OF, NOT_FOUND_ONLY, "        if error.code() not in (grpc.StatusCode.INVALID_ARGUMENT, "
          "grpc.StatusCode.UNAVAILABLE,\n                                grpc.StatusCode.DEADLINE_EXCEEDED):\n"
          "            return None"),
], ids=["UNKNOWN and INTERNAL", "PERMISSION_DENIED and UNAUTHENTICATED", "all but three"])
def test_nickname_of_swallowing_other_codes_fails_only_the_other_errors_case(mistake):
    result = check_nickname_of(caller(mistake))
    assert failed(result) == {NICKNAME_OF_RULES["other errors"]}, repr(result)
    assert "a server that refuses with" in result[NICKNAME_OF_RULES["other errors"]].got


def test_nickname_of_returning_the_message_of_other_errors_is_not_told_of_another_server():
    gives_the_message = wrong(NICKNAME_OF, "        raise  # any", "        return error.details()  # any")
    result = check_nickname_of(caller(gives_the_message))
    assert NICKNAME_OF_RULES["gone"] in failed(result), repr(result)
    assert "another server" not in result[NICKNAME_OF_RULES["gone"]].got, repr(result)


@pytest.mark.parametrize("timeout", ["2", "0.6"])
def test_nickname_of_with_another_timeout_fails_only_the_deadline_case_naming_what_the_call_carried(timeout):
    result = check_nickname_of(caller(wrong(NICKNAME_OF, ", timeout=1)", f", timeout={timeout})")))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)
    got = result[NICKNAME_OF_RULES["deadline"]].got
    assert got.startswith("the call carried a deadline of") or got.startswith("it gave up after"), repr(result)


def test_nickname_of_waiting_for_ready_is_told_why_a_gone_server_reads_as_a_deadline():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, ", timeout=1)", ", timeout=1, wait_for_ready=True)")))
    assert failed(result) == {NICKNAME_OF_RULES["gone"]}, repr(result)
    assert "leave wait_for_ready out" in result[NICKNAME_OF_RULES["gone"]].hint


def test_nickname_of_a_future_with_a_timeout_of_its_own_is_told_the_call_had_no_deadline():
    future = wrong(NICKNAME_OF, "stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
                   "stub.GetUser.future(users_pb2.UserRequest(id=user_id)).result(timeout=1)")
    result = check_nickname_of(caller(future))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)
    assert "FutureTimeoutError" in result[NICKNAME_OF_RULES["deadline"]].got
    assert "stub.GetUser(request, timeout=1)" in result[NICKNAME_OF_RULES["deadline"]].hint


def test_nickname_of_with_a_deadline_sent_as_a_header_of_its_own_is_caught_by_a_host_that_never_answers():
    """A server reads grpc-timeout and ends the call; a host that hangs never does, and nothing else would."""
    as_a_header = wrong(NICKNAME_OF, ", timeout=1)", ', metadata=[("grpc-timeout", "1S")])')
    result = check_nickname_of(caller(as_a_header))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)
    assert "a host that takes the connection and never answers" in result[NICKNAME_OF_RULES["deadline"]].got
    assert "timeout=1" in result[NICKNAME_OF_RULES["deadline"]].hint


def test_nickname_of_deciding_by_the_message_is_heard_when_another_code_says_the_same_words():
    by_the_words = wrong(NICKNAME_OF, NOT_FOUND_ONLY, '        if "no user" in (error.details() or ""):\n'
                                                      "            return None")
    result = check_nickname_of(caller(by_the_words))
    # and a NOT_FOUND in other words rises: the words tell nothing either way
    assert failed(result) == {NICKNAME_OF_RULES["other errors"], NICKNAME_OF_RULES["unknown"]}, repr(result)
    assert "a server that refuses with" in result[NICKNAME_OF_RULES["other errors"]].got
    assert "only the code tells them apart" in result[NICKNAME_OF_RULES["other errors"]].hint
    assert "NOT_FOUND is the answer, whatever its words" in result[NICKNAME_OF_RULES["unknown"]].hint


def test_nickname_of_that_tries_again_after_a_deadline_is_told_it_waited_past_its_second():
    retries = wrong(NICKNAME_OF, "    try:\n        reply = stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
                    "    try:\n        try:\n            reply = stub.GetUser(users_pb2.UserRequest(id=user_id), "
                    "timeout=1)\n        except grpc.RpcError as first:\n            if first.code() != "
                    "grpc.StatusCode.DEADLINE_EXCEEDED:\n                raise\n            reply = stub.GetUser("
                    "users_pb2.UserRequest(id=user_id), timeout=1)  # the mistake: once more")
    result = check_nickname_of(caller(retries))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)
    assert result[NICKNAME_OF_RULES["deadline"]].got.startswith("the server that does not answer was called 2 times")
    assert "a retry after DEADLINE_EXCEEDED" in result[NICKNAME_OF_RULES["deadline"]].hint


def test_nickname_of_that_asks_for_zero_in_place_of_a_negative_id_is_told_to_ask_as_given():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, "UserRequest(id=user_id)", "UserRequest(id=max(user_id, 0))")))
    assert failed(result) == {NICKNAME_OF_RULES["other errors"]}, repr(result)
    assert result[NICKNAME_OF_RULES["other errors"]].got == "nickname_of(stub, -5) asked the server for id 0, not -5"
    assert "max(user_id, 0)" in result[NICKNAME_OF_RULES["other errors"]].hint


def test_nickname_of_that_fills_in_one_shared_request_is_caught_from_many_threads():
    shared = wrong(NICKNAME_OF, "stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
                   "stub.GetUser(fill(user_id), timeout=1)")
    helper = ("REQUEST = users_pb2.UserRequest()\n\n\ndef fill(user_id):\n    REQUEST.id = user_id  # the mistake: "
              "one request for every call\n    print(end='')\n    return REQUEST\n\n\n")
    result = check_nickname_of(caller(helper + shared))
    assert failed(result) == {NICKNAME_OF_RULES["found"]}, repr(result)
    assert "threads at once" in result[NICKNAME_OF_RULES["found"]].got


@pytest.mark.parametrize(("mistake", "gave"), [
    (wrong(NICKNAME_OF, "UserRequest(id=user_id)", "UserRequest(id=ctypes.c_int32(user_id).value)").replace(
        "def nickname_of", "import ctypes\n\n\ndef nickname_of"), "nickname_of(stub, 5000000001) gave None"),
    (wrong(NICKNAME_OF, "UserRequest(id=user_id)", "UserRequest(id=int(float(user_id)))"),
     f"nickname_of(stub, {2**53 + 1}) gave None"),
    (wrong(NICKNAME_OF, "return reply.user.nickname", "return reply.user.nickname.strip()"),
     f"nickname_of(stub, {2**53 + 1}) gave 'big Ben_of_the_checker'"),
], ids=["an id of 32 bits", "an id through a float", "a nickname tidied"])
def test_nickname_of_that_changes_the_id_or_the_nickname_on_the_way_fails_the_found_case(mistake, gave):
    result = check_nickname_of(caller(mistake))
    assert failed(result) == {NICKNAME_OF_RULES["found"]}, repr(result)
    assert result[NICKNAME_OF_RULES["found"]].got.startswith(gave), repr(result)
    assert "as it is given" in result[NICKNAME_OF_RULES["found"]].hint


def test_nickname_of_written_as_an_async_def_is_told_so():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, "def nickname_of", "async def nickname_of")))
    assert result.passed == 0, repr(result)
    assert "gave a coroutine: it is an `async def`" in result[NICKNAME_OF_RULES["found"]].got


def test_nickname_of_raising_an_rpc_error_of_its_own_is_told_to_re_raise_the_one_it_caught():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, "raise  # any", "raise grpc.RpcError(error.details())  #")))
    assert NICKNAME_OF_RULES["other errors"] in failed(result), repr(result)
    assert "of its own making, which has no code" in result[NICKNAME_OF_RULES["other errors"]].got
    assert "bare `raise`" in result[NICKNAME_OF_RULES["other errors"]].hint


def test_nickname_of_with_a_deadline_a_little_short_fails_the_deadline_case():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, ", timeout=1)", ", timeout=0.9)")))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)


def test_nickname_of_that_keeps_what_it_was_told_is_told_of_its_cache_not_of_another_stub():
    kept = wrong_in_places(NICKNAME_OF, {
        "    try:\n": "    if user_id in KEPT:\n        return KEPT[user_id]\n    try:\n",
        "    return reply.user.nickname": "    KEPT[user_id] = reply.user.nickname\n    return reply.user.nickname"})
    result = check_nickname_of(caller("KEPT = {}\n" + kept))
    # every id was asked of the first server: the other servers' answers come from the cache
    assert failed(result) == {NICKNAME_OF_RULES[rule] for rule in ("found", "other errors", "gone", "deadline")
                              }, repr(result)
    for rule in ("other errors", "gone", "deadline"):
        assert "which another server gave earlier" in result[NICKNAME_OF_RULES[rule]].got
        assert "a nickname kept from an earlier call" in result[NICKNAME_OF_RULES[rule]].hint
    assert "a new stub to another server" in result[NICKNAME_OF_RULES["found"]].got, repr(result)
    assert "a nickname kept by id" in result[NICKNAME_OF_RULES["found"]].hint, repr(result)


def test_add_user_set_code_without_a_return_is_told_the_method_goes_on(tmp_path):
    goes_on = wrong(ADD_USER, REFUSAL, "context.set_code(grpc.StatusCode.INVALID_ARGUMENT)\n"
                                       "            context.set_details(mistake)")
    result = check(check_add_user, goes_on, tmp_path)
    assert ADD_USER_RULES["not stored"] in failed(result), repr(result)
    assert "context.set_code without a `return` ends nothing" in result[ADD_USER_RULES["not stored"]].hint


def test_add_user_replying_an_empty_user_is_told_to_reply_with_what_add_returned(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "UserResponse(user=stored)", "UserResponse()"), tmp_path)
    assert ADD_USER_RULES["valid"] in failed(result), repr(result)
    assert "users_pb2.UserResponse(user=stored)" in result[ADD_USER_RULES["valid"]].hint


def test_add_user_that_picks_the_next_id_itself_is_caught_by_users_sent_at_once(tmp_path):
    picks_it = wrong(ADD_USER, f"            {ADD}", """\
            if request.id == 0:  # the mistake: "the highest so far, plus one"
                taken = [user.id for kind in users_pb2.UserType.values() for user in self.directory.of_type(kind)]
                request.id = max(taken, default=0) + 1
            """ + ADD)
    result = check(check_add_user, picks_it, tmp_path)
    assert failed(result) == {ADD_USER_RULES["at once"]}, repr(result)
    assert "new users at once, each with id 0:" in result[ADD_USER_RULES["at once"]].got
    assert "leave id 0 as it is" in result[ADD_USER_RULES["at once"]].hint


@pytest.mark.parametrize("shared", [
    # the reply taken from self: a call that stored meanwhile overwrote it
    wrong(ADD_USER, "        return users_pb2.UserResponse(user=stored)", "        self.last = stored\n"
          "        time.sleep(0.02)  # e.g. a log line\n        return users_pb2.UserResponse(user=self.last)"),
    # the request kept on self: two calls store the same one, and the other's nickname is taken
    wrong_in_places(ADD_USER, {"        mistake = users.problem_with_new_user(request)": "        self.request = "
                               "request\n        time.sleep(0.02)  # e.g. a log line\n"
                               "        mistake = users.problem_with_new_user(self.request)",
                               "self.directory.add(request)": "self.directory.add(self.request)"}),
    # the same with a print between, which is all the time another call needs
    wrong(ADD_USER, "        return users_pb2.UserResponse(user=stored)", "        self.last = stored\n"
          '        print(end="")  # e.g. a log line\n        return users_pb2.UserResponse(user=self.last)'),
], ids=["the reply", "the request", "the reply, printed"])
def test_add_user_that_keeps_a_call_on_self_is_caught_by_users_sent_at_once(shared, tmp_path):
    result = check(check_add_user, shared.replace("import grpc", "import time\n\nimport grpc"), tmp_path)
    assert failed(result) == {ADD_USER_RULES["at once"]}, repr(result)
    assert "not on self" in result[ADD_USER_RULES["at once"]].hint, repr(result)


def test_add_user_that_ignores_the_id_asked_for_is_told_so_and_not_of_a_record_of_its_own(tmp_path):
    ignores_it = wrong(ADD_USER, f"            {ADD}", f"            request.id = 0\n            {ADD}")
    result = check(check_add_user, ignores_it, tmp_path)
    assert failed(result) == {ADD_USER_RULES["chosen id"], ADD_USER_RULES["taken"]}, repr(result)
    assert "keep any other" in result[ADD_USER_RULES["chosen id"]].hint, repr(result)


def test_add_user_that_remembers_refused_nicknames_leaves_a_trace(tmp_path):
    remembers = wrong(ADD_USER, "        try:\n", """\
        seen = self.__dict__.setdefault("seen", set())  # the mistake: "valid nicknames already asked for"
        if request.nickname in seen:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"the nickname {users.quoted(request.nickname)} is taken")
        seen.add(request.nickname)
        try:
""")
    result = check(check_add_user, remembers, tmp_path)
    assert failed(result) == {ADD_USER_RULES["not stored"]}, repr(result)
    assert "then the same user with id 0 → ALREADY_EXISTS" in result[ADD_USER_RULES["not stored"]].got
    assert "leaves no trace" in result[ADD_USER_RULES["not stored"]].hint


def test_add_user_that_records_nicknames_before_checking_them_is_told_of_its_record(tmp_path):
    records = wrong(ADD_USER, "        mistake = users.problem_with_new_user(request)", """\
        seen = self.__dict__.setdefault("seen", set())  # the mistake: recorded before the fields are checked
        if request.nickname in seen:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"the nickname {users.quoted(request.nickname)} is taken")
        seen.add(request.nickname)
        mistake = users.problem_with_new_user(request)""")
    result = check(check_add_user, records, tmp_path)
    assert ADD_USER_RULES["not stored"] in failed(result), repr(result)
    assert "its nickname was taken afterwards" in result[ADD_USER_RULES["not stored"]].got, repr(result)
    assert "a record of your own" in result[ADD_USER_RULES["not stored"]].hint, repr(result)


def test_add_user_that_lets_a_very_long_nickname_through_is_told_to_refuse_it(tmp_path):
    lets_it_through = wrong(ADD_USER, "mistake = users.problem_with_new_user(request)",
                            "mistake = users.problem_with_new_user(request) if len(request.nickname) <= 33 else None")
    result = check(check_add_user, lets_it_through, tmp_path)
    # the nickname case sends 35 and 40 characters too: its hint is the field's, not a tidied copy's (a nickname as
    # long, of letters only, is let through as well)
    nickname_rule = INVALID_FIELDS[2][0]
    assert failed(result) == {ADD_USER_RULES["short"], nickname_rule}, repr(result)
    assert "got OK" in result[ADD_USER_RULES["short"]].got, repr(result)
    assert "a nickname over its limit is a wrong request" in result[ADD_USER_RULES["short"]].hint, repr(result)
    assert result[nickname_rule].hint == FIELD_HINTS[nickname_rule], repr(result)


def test_add_user_that_checks_a_stripped_copy_lets_a_long_nickname_with_a_space_through(tmp_path):
    stripped = wrong(ADD_USER, "        mistake = users.problem_with_new_user(request)", """\
        checked = users_pb2.User()
        checked.CopyFrom(request)
        checked.nickname = checked.nickname.strip()  # the mistake: the check sees another nickname than is stored
        mistake = users.problem_with_new_user(checked)""")
    result = check(check_add_user, stripped, tmp_path)
    assert failed(result) == {INVALID_FIELDS[2][0]}, repr(result)


@pytest.mark.parametrize("field, tidy, rule", [
    ("mail_address", "request.mail_address.strip()", INVALID_FIELDS[4][0]),
    ("nickname", "request.nickname.rstrip()", INVALID_FIELDS[2][0]),
    ("nickname", "__import__('unicodedata').normalize('NFC', request.nickname)", INVALID_FIELDS[2][0]),
], ids=["mail_address stripped", "nickname rstripped", "nickname in NFC"])
def test_add_user_that_checks_a_tidied_copy_and_stores_the_request_is_told_to_check_what_it_stores(
        field, tidy, rule, tmp_path):
    """A 256-character mail_address (spaces around it), a nickname of 32 letters and 3 spaces, 'e' and a combining
    accent 20 times (40 characters): each passes once tidied, and is stored as it came."""
    tidied = wrong(ADD_USER, "        mistake = users.problem_with_new_user(request)", f"""\
        checked = users_pb2.User()
        checked.CopyFrom(request)
        checked.{field} = {tidy}  # the mistake: the check sees another value than is stored
        mistake = users.problem_with_new_user(checked)""")
    result = check(check_add_user, tidied, tmp_path)
    assert failed(result) == {rule}, repr(result)
    assert "got OK" in result[rule].got, repr(result)
    assert "check what you store" in result[rule].hint and "a tidied copy checked" in result[rule].hint


def test_add_user_with_a_counter_of_its_own_for_id_0_is_told_it_picks_ids_callers_chose(tmp_path):
    counts = wrong(ADD_USER, f"            {ADD}", """\
            if request.id == 0:  # the mistake: "ids from 1000 on, one at a time"
                with self.__dict__.setdefault("lock", threading.Lock()):
                    self.next_id = getattr(self, "next_id", 1000) + 1
                    request.id = self.next_id
            """ + ADD).replace("import grpc", "import threading\n\nimport grpc")
    result = check(check_add_user, counts, tmp_path)
    assert failed(result) == {ADD_USER_RULES["new id"]}, repr(result)
    assert result[ADD_USER_RULES["new id"]].got.startswith(
        "AddUser with id 0 gave id 1001, callers then chose ids 1002 to 1004, and AddUser with id 0 → ALREADY_EXISTS")
    assert "A counter of your own knows nothing of the ids callers chose" in result[ADD_USER_RULES["new id"]].hint


def test_nickname_of_sharing_one_request_between_calls_is_told_to_build_it_on_every_call():
    shared = wrong(NICKNAME_OF, "def nickname_of(stub, user_id):", "def nickname_of(stub, user_id, _request=users_pb2."
                   "UserRequest()):").replace("stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
                                              "stub.GetUser(_request, timeout=1)").replace(
        "    try:\n", "    _request.id = user_id\n    time.sleep(0.001)  # e.g. a log line\n    try:\n")
    result = check_nickname_of(caller("import time\n" + shared))
    assert failed(result) == {NICKNAME_OF_RULES["found"]}, repr(result)
    assert "threads at once" in result[NICKNAME_OF_RULES["found"]].got, repr(result)
    assert "build the UserRequest inside the function" in result[NICKNAME_OF_RULES["found"]].hint, repr(result)


ONE_REQUEST = "stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)"


@pytest.mark.parametrize("shared", [
    "REQUEST = users_pb2.UserRequest()  # the mistake: built once, reused\n\n\n" + wrong_in_places(NICKNAME_OF, {
        "    try:\n": "    REQUEST.id = user_id\n    try:\n", ONE_REQUEST: "stub.GetUser(REQUEST, timeout=1)"}),
    wrong_in_places(NICKNAME_OF, {"def nickname_of(stub, user_id):": "def nickname_of(stub, user_id, request=users_pb2."
                                  "UserRequest()):  # the mistake: one default for every call",
                                  "    try:\n": "    request.id = user_id\n    try:\n",
                                  ONE_REQUEST: "stub.GetUser(request, timeout=1)"}),
], ids=["a module's request", "a default argument"])
def test_nickname_of_sharing_one_request_with_nothing_between_is_caught_at_quick_switches(shared):
    """No sleep between setting the id and sending: the crowd runs with threads switching every microsecond, and
    unknown ids among the known show as None where a nickname belongs, or the other way round."""
    result = check_nickname_of(caller(shared))
    assert failed(result) == {NICKNAME_OF_RULES["found"]}, repr(result)
    assert "threads at once" in result[NICKNAME_OF_RULES["found"]].got, repr(result)
    assert "build the UserRequest inside the function" in result[NICKNAME_OF_RULES["found"]].hint, repr(result)


def test_nickname_of_switches_threads_as_before_after_the_check():
    before = unary_caller.sys.getswitchinterval()
    check_nickname_of(caller(answer(NICKNAME_OF)))
    assert unary_caller.sys.getswitchinterval() == before


def test_nickname_of_that_reads_not_found_by_its_words_is_told_the_code_is_the_answer():
    by_words = wrong(NICKNAME_OF, "if error.code() == grpc.StatusCode.NOT_FOUND:", 'if error.code() == grpc.StatusCode.'
                     'NOT_FOUND and error.details().startswith("no user"):  # the mistake: the words judged too')
    result = check_nickname_of(caller(by_words))
    assert failed(result) == {NICKNAME_OF_RULES["unknown"]}, repr(result)
    assert result[NICKNAME_OF_RULES["unknown"]].got == (
        "for a server whose NOT_FOUND says 'user 2718 does not exist', nickname_of(stub, 2718) let NOT_FOUND rise; "
        "expected None")
    assert "NOT_FOUND is the answer, whatever its words" in result[NICKNAME_OF_RULES["unknown"]].hint


def test_nickname_of_behind_a_semaphore_of_two_is_told_of_a_lock_or_semaphore():
    limited = "import threading\n\nIN_FLIGHT = threading.BoundedSemaphore(2)\n\n\n" + wrong(
        NICKNAME_OF, f"        reply = {ONE_REQUEST}",
        f"        with IN_FLIGHT:  # the mistake: \"be kind to the server\"\n            reply = {ONE_REQUEST}")
    result = check_nickname_of(caller(limited))
    assert failed(result) == {NICKNAME_OF_RULES["threads"]}, repr(result)
    assert "a lock or semaphore held around the call" in result[NICKNAME_OF_RULES["threads"]].hint, repr(result)


def test_nickname_of_answering_none_for_a_wrong_id_without_asking_is_told_to_ask():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, "    try:\n", "    if user_id < 1:\n        return None\n"
                                                                     "    try:\n")))
    assert failed(result) == {NICKNAME_OF_RULES["other errors"]}, repr(result)
    assert "ask the server for the id you are given" in result[NICKNAME_OF_RULES["other errors"]].hint, repr(result)


def test_nickname_of_that_asks_for_the_id_made_positive_is_told_to_ask_for_it_as_it_is():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, "UserRequest(id=user_id)", "UserRequest(id=abs(user_id))")))
    assert failed(result) == {NICKNAME_OF_RULES["other errors"]}, repr(result)
    assert "nickname_of(stub, -5) gave 'erin_of_the_checker'" in result[NICKNAME_OF_RULES["other errors"]].got, (
        repr(result))
    assert "(abs(user_id)" in result[NICKNAME_OF_RULES["other errors"]].hint, repr(result)


def test_nickname_of_behind_functools_cache_is_told_of_its_cache_once_a_missing_user_comes():
    cached = "import functools\n\n\n@functools.cache\n" + answer(NICKNAME_OF)
    result = check_nickname_of(caller(cached))
    assert NICKNAME_OF_RULES["unknown"] in failed(result), repr(result)
    assert "still gave None without asking it" in result[NICKNAME_OF_RULES["unknown"]].got, repr(result)
    assert "functools.cache" in result[NICKNAME_OF_RULES["unknown"]].hint, repr(result)


SWALLOWS_IN_FINALLY = """\
def nickname_of(stub, user_id):
    nickname = None
    try:
        reply = stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)
        nickname = reply.user.nickname
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    finally:
        return nickname  # the mistake: a return here cancels the exception being raised
"""


def test_nickname_of_a_return_in_finally_is_named_as_what_swallows_the_error():
    result = check_nickname_of(caller(SWALLOWS_IN_FINALLY))
    assert NICKNAME_OF_RULES["other errors"] in failed(result), repr(result)
    assert "a `return` in a `finally:` block" in result[NICKNAME_OF_RULES["other errors"]].hint, repr(result)


def test_nickname_of_keeping_stub_get_user_by_id_of_the_stub_calls_a_server_an_earlier_stub_led_to():
    kept = "RPCS = {}\n\n\n" + wrong(NICKNAME_OF, "stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
                                     "RPCS.setdefault(id(stub), stub.GetUser)(users_pb2.UserRequest(id=user_id), "
                                     "timeout=1)  # the mistake")
    result = check_nickname_of(caller(kept))
    assert failed(result) == {NICKNAME_OF_RULES["found"]}, repr(result)
    assert result[NICKNAME_OF_RULES["found"]].got.startswith("a new stub to another server, then nickname_of(stub, 3)")
    assert "keyed by id(stub)" in result[NICKNAME_OF_RULES["found"]].hint, repr(result)


RETRIED = """\
def nickname_of(stub, user_id):
    for attempt in range(2):  # the mistake: once more, "for transient trouble"
        try:
            return stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1).user.nickname
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                {on_not_found}
            if attempt == 1 or error.code() {raise_at_once}:
                raise
    return None
"""


@pytest.mark.parametrize(("source", "rule", "got", "hint"), [
    (RETRIED.format(on_not_found="return None", raise_at_once="== grpc.StatusCode.DEADLINE_EXCEEDED"),
     "other errors", "nickname_of(stub, 0) let INVALID_ARGUMENT rise after asking the server 2 times",
     "retrying INVALID_ARGUMENT never helps"),
    (RETRIED.format(on_not_found="time.sleep(0.1)\n                continue", raise_at_once="!= grpc.StatusCode."
                    "NOT_FOUND"), "unknown", "nickname_of(stub, 2718) gave None, after asking the server 2 times",
     "return None at once"),
], ids=["every refusal asked again", "NOT_FOUND asked again"])
def test_nickname_of_that_asks_again_after_an_answer_fails_the_case_of_that_answer(source, rule, got, hint):
    result = check_nickname_of(caller("import time\n" + source))
    assert failed(result) == {NICKNAME_OF_RULES[rule]}, repr(result)
    assert result[NICKNAME_OF_RULES[rule]].got == got, repr(result)
    assert hint in result[NICKNAME_OF_RULES[rule]].hint, repr(result)


def test_nickname_of_that_times_out_a_call_without_a_deadline_is_told_the_call_needs_its_own():
    waits = "import concurrent.futures\n\nPOOL = concurrent.futures.ThreadPoolExecutor()\n\n\n" + wrong(
        NICKNAME_OF, "stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)",
        "POOL.submit(stub.GetUser, users_pb2.UserRequest(id=user_id)).result(timeout=1)  # the mistake")
    result = check_nickname_of(caller(waits))
    assert failed(result) == {NICKNAME_OF_RULES["deadline"]}, repr(result)
    assert result[NICKNAME_OF_RULES["deadline"]].got.startswith(
        "nickname_of(stub, 1) raised TimeoutError, with no message: something of yours stopped waiting"), repr(result)
    assert "pass timeout=1 to stub.GetUser itself" in result[NICKNAME_OF_RULES["deadline"]].hint


def test_nickname_of_raising_an_exception_without_a_message_is_told_there_is_none():
    result = check_nickname_of(caller(wrong(NICKNAME_OF, "return None  #", "raise LookupError  #")))
    assert failed(result) == {NICKNAME_OF_RULES["unknown"]}, repr(result)
    assert result[NICKNAME_OF_RULES["unknown"]].got == (
        "nickname_of(stub, 2718) raised LookupError, with no message, in place of the RpcError")


def test_a_case_that_raises_an_exception_without_a_message_is_told_there_is_none():
    """support's words for any checker: nothing to read, so no 'read the message'."""
    def raises():
        raise TimeoutError

    case = run_checks("a case", [("raises", raises)]).cases[0]
    assert case.got == "your code raised TimeoutError, with no message"
    assert "read the message" not in case.hint and "traceback" in case.hint


def test_nickname_of_refusing_a_wrong_id_itself_is_told_to_ask_the_server_for_it():
    checks = wrong(NICKNAME_OF, "    try:\n", '    if user_id < 1:\n        raise ValueError("id must be positive")\n'
                                             "    try:\n")
    result = check_nickname_of(caller(checks))
    assert failed(result) == {NICKNAME_OF_RULES["other errors"]}, repr(result)
    assert result[NICKNAME_OF_RULES["other errors"]].got == (
        "nickname_of(stub, 0) raised ValueError: id must be positive, without asking the server")
    assert "ask the server for the id you are given" in result[NICKNAME_OF_RULES["other errors"]].hint
