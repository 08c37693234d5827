"""check_get_user (4.1) and check_add_user (4.2): each rule broken on its own by one wrong answer.

A wrong answer is the answer in solutions/ with one mistake put in; it must fail the case of the
rule it breaks, with a hint that names that rule, and pass every other case it can.
"""
import re

import pytest
from exercises import answer, failed, skeleton, write_cell, wrong
from exercises import check_server_cell as check

import server_runner
from workshop.checkers.unary import ADD_USER_RULES, GET_USER_RULES, INVALID_FIELDS, check_add_user, check_get_user
from workshop.protos import users_pb2, users_pb2_grpc

GET_USER = "04_1_get_user.py"
ADD_USER = "04_2_add_user.py"

# ---------------------------------------------------------------- 4.1 GetUser

ID_CHECK = '''        problem = users.problem_with_id(request.id)  # below 1 can name nobody: a wrong request
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
'''
NOT_FOUND = "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))"

GET_USER_WRONG = {  # rule broken: the answer with that one mistake
    "found": wrong(GET_USER, "return users_pb2.UserResponse(user=user)",
                   "return users_pb2.UserResponse(user=users_pb2.User(id=user.id, nickname=user.nickname))"),
    # the source article's way: OK and an empty user, which a caller may take for a user
    "unknown": wrong(GET_USER, NOT_FOUND, "return users_pb2.UserResponse()"),
    "unknown, nameless": wrong(GET_USER, "users.no_user_with(request.id)", '"user not found"'),
    "invalid": wrong(GET_USER, ID_CHECK, ""),
    "invalid, after the lookup": wrong(GET_USER, ID_CHECK, "").replace(f"            {NOT_FOUND}", f"""\
            if request.id <= 0:  # the mistake: the id is checked only when the lookup found nobody
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, users.problem_with_id(request.id))
            {NOT_FOUND}"""),
}
GET_USER_HINTS = {"found": "UserResponse(user=user)", "unknown": "NOT_FOUND", "unknown, nameless": "name the id",
                  "invalid": "before self.directory.get", "invalid, after the lookup": "before self.directory.get"}


def test_get_user_skeleton_is_reported_as_not_done(tmp_path):
    result = check(check_get_user, skeleton(GET_USER), tmp_path)
    assert result.passed == 0 and len(result.cases) == len(GET_USER_RULES)
    assert all("not done yet" in case.got for case in result.cases)


@pytest.mark.parametrize("mistake", GET_USER_WRONG)
def test_get_user_wrong_answer_fails_only_the_rule_it_breaks(mistake, tmp_path):
    result = check(check_get_user, GET_USER_WRONG[mistake], tmp_path)
    rule = GET_USER_RULES[mistake.split(",")[0]]
    assert failed(result) == {rule}, repr(result)
    assert GET_USER_HINTS[mistake] in result[rule].hint, repr(result)


def test_get_user_answering_ok_for_an_unknown_id_reads_as_the_wrong_status(tmp_path):
    result = check(check_get_user, GET_USER_WRONG["unknown"], tmp_path)
    assert "got OK with an empty reply; expected NOT_FOUND" in result[GET_USER_RULES["unknown"]].got


def test_get_user_looking_up_a_planted_id_zero_is_caught(tmp_path):
    """The checker's directory holds a user with id 0, so only a check before the lookup refuses it."""
    result = check(check_get_user, GET_USER_WRONG["invalid"], tmp_path)
    assert 'nickname: "ghost"' in result[GET_USER_RULES["invalid"]].got


def test_get_user_exception_in_the_server_is_reported_not_raised(tmp_path):
    result = check(check_get_user, wrong(GET_USER, "user = self.directory.get(request.id)",
                                         "user = self.directory._users[request.id]"), tmp_path)
    assert result.passed == 1  # only the id check, which comes first, still works
    assert "your server raised an exception (UNKNOWN" in result[GET_USER_RULES["found"]].got


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
            id=404, nickname="stored_before", mail_address="s@example.com", user_type=1), timeout=5)
        result = check_get_user(server)  # 404 is the checker's unknown id; it checks a fresh copy
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
ADD = "stored = self.directory.add(request)"

# One check forgotten at a time: (field rule, the problem let through, the field, a value that passes)
FORGETS = {
    INVALID_FIELDS[0][0]: ("request.id < 0", "id", "0"),
    INVALID_FIELDS[1][0]: ("not request.nickname.strip()", "nickname", '"x"'),
    INVALID_FIELDS[2][0]: ("len(request.nickname) > users.MAX_NICKNAME", "nickname", '"x"'),
    INVALID_FIELDS[3][0]: ('"@" not in request.mail_address', "mail_address", '"x@example.com"'),
    INVALID_FIELDS[4][0]: ("len(request.mail_address) > users.MAX_MAIL_ADDRESS", "mail_address", '"x@example.com"'),
    INVALID_FIELDS[5][0]: ("request.user_type == users_pb2.USER_TYPE_UNSPECIFIED", "user_type", "1"),
    INVALID_FIELDS[6][0]: ("request.user_type not in users_pb2.UserType.values()", "user_type", "1"),
}


def forgets(rule: str) -> str:
    """The answer, but its check of the fields never sees the problem of `rule`."""
    problem, field, passing = FORGETS[rule]
    return wrong(ADD_USER, VALIDATION, f"""checked = users_pb2.User()
        checked.CopyFrom(request)
        if {problem}:
            checked.{field} = {passing}  # the mistake: this problem goes unchecked
        mistake = users.problem_with_new_user(checked)""")


FIELD_HINTS = {rule: hint for rule, _, _, hint in INVALID_FIELDS}


def test_add_user_rules_cover_every_field_of_the_checker():
    assert set(FORGETS) == {rule for rule, *_ in INVALID_FIELDS}


def test_add_user_skeleton_is_reported_as_not_done(tmp_path):
    result = check(check_add_user, skeleton(ADD_USER), tmp_path)
    assert result.passed == 0 and len(result.cases) == len(ADD_USER_RULES) + len(INVALID_FIELDS)
    assert all("not done yet" in case.got for case in result.cases)


@pytest.mark.parametrize("rule", FORGETS, ids=lambda rule: rule.split(" →")[0])
def test_add_user_forgetting_one_field_check_fails_only_its_case(rule, tmp_path):
    result = check(check_add_user, forgets(rule), tmp_path)
    assert failed(result) == {rule}, repr(result)
    assert re.search("got OK with .*expected INVALID_ARGUMENT", result[rule].got)
    assert result[rule].hint == FIELD_HINTS[rule]


def test_add_user_message_that_names_nothing_fails_every_field_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "context.abort(grpc.StatusCode.INVALID_ARGUMENT, mistake)",
                                         'context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid")'), tmp_path)
    assert failed(result) == set(FIELD_HINTS), repr(result)
    assert all("does not name the problem" in result[rule].got for rule in FIELD_HINTS)
    assert "which field" in result[INVALID_FIELDS[0][0]].hint


def test_add_user_letting_already_exists_escape_fails_the_taken_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, '''        try:
            stored = self.directory.add(request)  # id 0: the directory picks the next free id
        except users.AlreadyExists as taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))
''', f"        {ADD}\n"), tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "your server raised an exception (UNKNOWN" in result[ADD_USER_RULES["taken"]].got


def test_add_user_taken_as_the_wrong_code_fails_the_taken_case(tmp_path):
    taken_as_invalid = wrong(ADD_USER, "grpc.StatusCode.ALREADY_EXISTS", "grpc.StatusCode.INVALID_ARGUMENT")
    result = check(check_add_user, taken_as_invalid, tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "users.AlreadyExists" in result[ADD_USER_RULES["taken"]].hint


def test_add_user_taken_with_a_message_that_names_nothing_fails_the_taken_case(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "ALREADY_EXISTS, str(taken)", 'ALREADY_EXISTS, "already exists"'),
                   tmp_path)
    assert failed(result) == {ADD_USER_RULES["taken"]}, repr(result)
    assert "does not say that 1 is taken" in result[ADD_USER_RULES["taken"]].got
    assert "str(error)" in result[ADD_USER_RULES["taken"]].hint


def test_add_user_storing_before_checking_fails_only_the_no_trace_case(tmp_path):
    reply = "        return users_pb2.UserResponse(user=stored)"
    stores_first = wrong(ADD_USER, CHECK_FIELDS, "").replace(reply, CHECK_FIELDS + reply)
    result = check(check_add_user, stores_first, tmp_path)
    assert failed(result) == {ADD_USER_RULES["not stored"]}, repr(result)
    assert "yet GetUser(" in result[ADD_USER_RULES["not stored"]].got
    assert "leave no trace" in result[ADD_USER_RULES["not stored"]].hint


def test_add_user_replying_with_the_request_misses_the_new_id(tmp_path):
    result = check(check_add_user, wrong(ADD_USER, "UserResponse(user=stored)", "UserResponse(user=request)"), tmp_path)
    assert failed(result) == {ADD_USER_RULES["new id"]}, repr(result)
    assert "expected a new positive id" in result[ADD_USER_RULES["new id"]].got


def test_add_user_dropping_a_chosen_id_fails_only_the_chosen_id_case(tmp_path):
    drops_the_id = wrong(ADD_USER, f"            {ADD}", f'''            if self.directory.get(request.id):
                raise users.AlreadyExists(f"a user with id {{request.id}} already exists")
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
