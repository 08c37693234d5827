"""Checker for notebook 07 (bidirectional): the learner's GetUsersByIds, ping-pong, over real channels.

It judges a fresh copy of the learner's module over a directory of its own (users_cases.seeded),
so nothing that ran before changes a verdict; the seed plants users with ids 0 and -3 (AddUser
would refuse them), so a server that answers such ids with a lookup instead of refusing them
sends a user. (Whether it looks them up before it refuses them cannot be seen, so is not judged.)

The key case is a conversation: the checker sends one id and does not send the next until the
answer has arrived. A server that answers each request as it comes passes at once; a server that
first collects every request never answers, because the client never finishes, so the case
reports it after a short wait instead of hanging.
"""
from __future__ import annotations

import re

import grpc

from workshop.checkers import support, users_cases
from workshop.checkers.support import Fail
from workshop.protos import users_pb2

UNKNOWN_ID = 4242  # nobody has it

SEED = [(21, "ines"), (3, "carmen"), (8, "hugo"), (0, "zero"), (-3, "minus")]  # 0 and -3: planted


def checker_seed() -> list[users_pb2.User]:
    """The directory every check runs on."""
    return [users_pb2.User(id=user_id, nickname=name, mail_address=f"{name}@example.com",
                           user_type=users_pb2.USER_TYPE_NORMAL) for user_id, name in SEED]


NAMES = dict(SEED)
WRAP_HINT = "yield users_pb2.UserResponse(user=user): the User goes inside a UserResponse"
EMPTY_ANSWER_HINT = ("for an id nobody has, self.directory.get gives None, and UserResponse(user=None) is an "
                     "answer with no user in it: end the stream with NOT_FOUND instead, "
                     "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))")
PING_PONG_HINT = ("answer inside the loop: `for request in request_iterator:` look the user up and `yield` "
                  "at once; do not collect every request before answering")
ORDER_HINT = "yield one UserResponse per request, in the order the ids arrive, even for an id asked before"
NOT_FOUND_HINT = ("when self.directory.get(request.id) finds nobody, "
                  "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))")
BAD_ID_HINT = ("refuse what users.problem_with_id(request.id) finds a problem with, even when the directory "
               "has a user with that id: context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)")
BAD_ID_SAYS_WHY_HINT = ("the client sent several ids: the message must say which one, and what is wrong with it, "
                        "as users.problem_with_id(request.id) does; abort with that problem as the message")
NO_IDS_HINT = "when the client sends no ids, the loop runs zero times: just let the stream end"
ENDED_EARLY_HINT = ("the stream ended before every id had its answer: answer every id, a repeated one too, and keep "
                    "looping over request_iterator until it ends (a `return` or `break` inside the loop ends the "
                    "stream for every id after it)")
WENT_ON_HINT = ("an id sent after the one that ends the stream was answered: answer the ids in the order they "
                "arrive, and let context.abort end the call (it raises an exception: no try/except around it, "
                "no `continue` after it)")
TWICE_HINT = "one answer per id: each id got two (a second yield for the same request?)"
SKIPPED_HINT = ("an id of 0 or below ends the stream, it is not skipped: context.abort(grpc.StatusCode."
                "INVALID_ARGUMENT, problem), not `continue`")
STUCK_HINT = ("no answer at all within the call's time: is something still held by an earlier call? A lock "
              "released after the loop stays taken when context.abort ends the call (it raises): take it with "
              "`with`, or better, hold no lock while you wait for the next id")
HELD_HINT = ("hold no lock while you wait for the next id or yield (rule 4 of notebook 05): one conversation that "
             "pauses would make every other wait. The directory takes care of its own lock")
EACH_AS_IT_COMES_HINT = ("answer each id as it comes: hugo's answer leaves before the next id is read, and the "
                         "stream ends at the id that cannot be answered")


def _hint(replies, before: list[str], error, otherwise: str) -> str:
    """Why the stream did not give `before` (the answers due before its end): the cause its shape shows."""
    names = [reply.user.nickname for reply in replies]
    if len(names) >= 2 and names[::2] == names[1::2]:
        return TWICE_HINT
    if error is None and len(names) < len(before) + 1 and names == before[:len(names)]:
        return ENDED_EARLY_HINT
    if error is not None and not names and before:
        return EACH_AS_IT_COMES_HINT
    if error is not None and names[:len(before)] == before and len(names) > len(before):
        return WENT_ON_HINT
    return otherwise


def _names(replies) -> str:
    return ", ".join(reply.user.nickname or "(an empty user)" for reply in replies) or "no answers"


def _wrapped(replies) -> None:
    """Fails when an answer carries no user: when none does, most often the User itself was yielded;
    when only some do, an unknown id was answered with UserResponse(user=None)."""
    empty = sum(not reply.HasField("user") for reply in replies)
    if empty:
        which = "the answer" if len(replies) == 1 else f"{empty} of the {len(replies)} answers"
        raise Fail(f"{which} carried no user", WRAP_HINT if empty == len(replies) else EMPTY_ANSWER_HINT)


def _explained(error: grpc.RpcError) -> BaseException:
    if error.code() == grpc.StatusCode.INTERNAL:  # what the server yielded could not be sent as a UserResponse
        return Fail(f"the call failed with {support.describe_rpc_error(error)}", WRAP_HINT)
    return error


class _Conversation(users_cases.Conversation):
    """The shared conversation, whose errors read as this checker explains them."""

    def next_answer(self):
        try:
            return super().next_answer()
        except grpc.RpcError as error:
            raise _explained(error) from None


def _all_at_once(target, ids):
    """Send every id at once; the answers, and the error the stream ended with (None if OK)."""
    replies = []
    with users_cases.users_stub(target) as stub:
        try:
            for reply in stub.GetUsersByIds(iter([users_pb2.UserRequest(id=i) for i in ids]), timeout=support.TIMEOUT):
                replies.append(reply)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and not replies:
                raise Fail(f"ids {', '.join(map(str, ids)) or 'none'} → no answer within {support.TIMEOUT:g} s",
                           STUCK_HINT) from None
            if error.code() in support.INFRASTRUCTURE_CODES or error.code() == grpc.StatusCode.INTERNAL:
                raise _explained(error) from None
            _wrapped(replies)
            return replies, error
    _wrapped(replies)
    return replies, None


def _names_id(message: str, user_id: int) -> bool:
    return re.search(rf"(?<![\d-]){user_id}(?!\d)", message) is not None


def _ended(replies, error) -> str:
    return f"got {_names(replies)}, then " + (support.describe_rpc_error(error) if error else "the stream ended OK")


# ---------------------------------------------------------------- the rules, one case each


def answers_each_id_before_the_next_comes(target) -> None:
    with users_cases.users_stub(target) as stub:
        conversation = _Conversation(stub)
        try:
            for user_id in (21, 3):
                conversation.send(user_id)
                reply = conversation.next_answer()
                if reply is None:
                    raise Fail(f"no answer to id {user_id} within {users_cases.ANSWER_WAIT:g} s, while the client "
                               "waited for it before sending the next id", PING_PONG_HINT)
                if reply is users_cases.END:
                    raise Fail(f"the stream ended after id {user_id} with no answer", ENDED_EARLY_HINT)
                _wrapped([reply])
                if reply.user.nickname != NAMES[user_id]:
                    raise Fail(f"id {user_id} → got {_names([reply])}; expected {NAMES[user_id]}", ORDER_HINT)
            conversation.finish()
            end = conversation.next_answer()
            if end is None:
                raise Fail("the client finished sending, but the stream did not end",
                           "return when request_iterator ends (the loop ends by itself)")
            if end is not users_cases.END:
                raise Fail(f"after the last id, the server sent one more answer ({_names([end])})", ORDER_HINT)
        finally:
            conversation.close()


def answers_every_id_in_order(target) -> None:
    ids = [8, 3, 21, 3]
    expected = [NAMES[user_id] for user_id in ids]
    replies, error = _all_at_once(target, ids)
    if error is not None or [reply.user.nickname for reply in replies] != expected:
        hint = ENDED_EARLY_HINT if error is None and len(replies) < len(expected) else _hint(replies, [], error,
                                                                                            ORDER_HINT)
        raise Fail(f"{_ended(replies, error)}; expected {', '.join(expected)}", hint)


def ends_at_the_first_unknown_id(target) -> None:
    replies, error = _all_at_once(target, [8, UNKNOWN_ID, 21])
    expected = f"expected hugo, then NOT_FOUND naming {UNKNOWN_ID}"
    if error is None or error.code() != grpc.StatusCode.NOT_FOUND:
        raise Fail(f"{_ended(replies, error)}; {expected}", _hint(replies, ["hugo"], error, NOT_FOUND_HINT))
    if _names(replies) != "hugo":
        raise Fail(f"{_ended(replies, error)}; {expected}", _hint(replies, ["hugo"], error, EACH_AS_IT_COMES_HINT))
    if str(UNKNOWN_ID) not in (error.details() or ""):
        raise Fail(f"NOT_FOUND said {error.details()!r}, which does not name the id",
                   f"name the id, as users.no_user_with({UNKNOWN_ID}) does: the client sent several ids "
                   "and needs to know which one failed")


def refuses_an_id_of_zero_or_below(target) -> None:
    # -5: nobody has it, so no NOT_FOUND first; 21 after the 0: a wrong id skipped lets it through
    for ids, bad, before in (([8, 0, 21], 0, ["hugo"]), ([-3], -3, []), ([-5], -5, [])):
        replies, error = _all_at_once(target, ids)
        shown = f"ids {', '.join(map(str, ids))} → {_ended(replies, error)}"
        wanted = f"expected {'hugo, then ' if before else ''}INVALID_ARGUMENT"
        skipped = [NAMES[user_id] for user_id in ids if user_id > 0]
        if error is None and len(ids) > 1 and [reply.user.nickname for reply in replies] == skipped:
            raise Fail(f"{shown}; {wanted}", SKIPPED_HINT)
        if error is None or error.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise Fail(f"{shown}; {wanted}", _hint(replies, before, error, BAD_ID_HINT))
        if [reply.user.nickname for reply in replies] != before:
            raise Fail(f"{shown}; {wanted}", _hint(replies, before, error, ORDER_HINT))
        if not _names_id(error.details() or "", bad):
            raise Fail(f"id {bad} → INVALID_ARGUMENT said {(error.details() or '')[:60]!r}, which does not "
                       "name the id", BAD_ID_SAYS_WHY_HINT)


def no_ids_no_answers(target) -> None:
    replies, error = [], None
    with users_cases.users_stub(target) as stub:
        try:
            replies = list(stub.GetUsersByIds(iter([]), timeout=support.TIMEOUT))
        except grpc.RpcError as raised:
            if raised.code() in support.INFRASTRUCTURE_CODES:
                raise
            error = raised
    if error is not None or replies:
        answered = f"{len(replies)} answer{'s' if len(replies) != 1 else ''}"
        raise Fail(f"no ids → {answered}, then " + (support.describe_rpc_error(error) if error else
                                                   "the stream ended OK") + "; expected no answers, and OK",
                   NO_IDS_HINT + (": yield nothing of your own after it" if replies else ""))


def answers_one_conversation_while_another_waits(target) -> None:
    with users_cases.users_stub(target) as stub:
        waiting, other = _Conversation(stub), _Conversation(stub)
        try:
            waiting.send(21)
            if waiting.next_answer() is None:  # the ping-pong case says why
                return
            other.send(3)  # the first conversation now waits for its client, inside the servicer's loop
            reply = other.next_answer()
            if reply is None:
                raise Fail(f"while one conversation waited for its client's next id, another's id 3 got no answer "
                           f"within {users_cases.ANSWER_WAIT:g} s", HELD_HINT)
        finally:
            waiting.close()
            other.close()


RULES = {  # Exercise 7.1: each rule is one case, and one wrong-answer test breaks only it
    "answers each id before the client sends the next (ping-pong)": answers_each_id_before_the_next_comes,
    "ids 8, 3, 21, 3 → hugo, carmen, ines, carmen: one answer per id, in order": answers_every_id_in_order,
    f"ids 8, {UNKNOWN_ID}, 21 → hugo, then NOT_FOUND naming {UNKNOWN_ID}": ends_at_the_first_unknown_id,
    "ids 8, 0, 21 → hugo, then INVALID_ARGUMENT naming 0, though a user has id 0; ids -3 and -5 → the same":
        refuses_an_id_of_zero_or_below,
    "no ids → no answers, and the stream ends OK": no_ids_no_answers,
    "two conversations at once: while one waits for its client's next id, the other is answered (no lock held "
    "across the loop)": answers_one_conversation_while_another_waits,
}


def check_get_users_by_ids(server) -> support.CheckResult:
    """Exercise 7.1: `server` is what server_runner.start("my_users_by_ids.py") returned."""
    return users_cases.check_on_own_seed("Exercise 7.1 · GetUsersByIds", server, checker_seed(), RULES)
