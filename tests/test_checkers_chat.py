"""check_chat_server: ✗ on the shipped skeleton, ✓ on the answer, and each wrong answer below breaks
one rule of workshop.checkers.chat.RULES, gets ✗ on that case, and a hint that names the cause."""
import pytest
from exercises import answer, check_server_cell, failed, skeleton, write_cell

import server_runner
from workshop.checkers.chat import RULES, check_chat_server

SOLUTION = "08_1_chat_server.py"
HEADER, FAN_OUT, NUMBERED, REPLAY, INVALID, IDLE_CPU, ROOM, LEAVES = RULES


def wrong(replace: str, by: str) -> str:
    """The answer with one typical mistake put in."""
    source = answer(SOLUTION)
    assert replace in source, "the answer changed; update this wrong answer"
    return source.replace(replace, by)


NO_JOIN_HEADER = wrong('''        context.send_initial_metadata(())''', "")  # panes then stay at "joining…"

ONE_SUBSCRIBER_HEARS = wrong("for inbox in self.inboxes:", "for inbox in list(self.inboxes)[:1]:")

UNNUMBERED = wrong("""            for inbox in self.inboxes:
                inbox.put(note)""", """            for inbox in self.inboxes:
                inbox.put(request)""")

NO_REPLAY = wrong("self.history.last(request.replay)", "[]")

ACCEPTS_INVALID_NOTES = wrong('''        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)''', "")

WAIT_IN_THE_INBOX = "        while (note := inbox.get()) is not None:  # sleeps until a note arrives: no polling"
POLLS_EVERY_10_MS = wrong(WAIT_IN_THE_INBOX, '''        while True:
            while inbox.empty():  # "anything new?" 100 times a second, for every subscriber
                time.sleep(0.01)
            if (note := inbox.get()) is None:
                return''').replace("import threading", "import threading\nimport time")

BUSY_LOOP = wrong(WAIT_IN_THE_INBOX + "\n            yield note", '''
        while context.is_active():  # the source talk's loop: "anything new?", without a pause
            if not inbox.empty():
                if (note := inbox.get()) is None:
                    return
                yield note''')

POOL_OF_TEN = wrong("MAX_WORKERS = 100", "MAX_WORKERS = 10")  # the source talk's pool

NEVER_LEAVES = wrong('''        if not context.add_callback(leave):
            leave()  # the call had already ended''', "")  # sleeps in inbox.get() until a Post wakes it


ONE_RULE_BROKEN = {  # wrong answer: (the rule it breaks, words of what the case got, words of its hint)
    "no_join_header": (NO_JOIN_HEADER, HEADER, "no join header", "send_initial_metadata"),
    "unnumbered_notes": (UNNUMBERED, NUMBERED, "numbered [0, 0, 0]", "history.add"),
    "replay_ignored": (NO_REPLAY, REPLAY, "the replayed history", "history.last(request.replay)"),
    "invalid_notes_accepted": (ACCEPTS_INVALID_NOTES, INVALID, "expected INVALID_ARGUMENT", "problem_with_note"),
    "polls_every_10_ms": (POLLS_EVERY_10_MS, IDLE_CPU, "s of CPU in 1 s", "inbox.get()"),
    "never_leaves": (NEVER_LEAVES, LEAVES, "110 subscribers cancelled", "add_callback"),  # 110: the pool + 10
}


@pytest.fixture
def check(tmp_path):
    return lambda source: check_server_cell(check_chat_server, source, tmp_path)


def test_skeleton_is_reported_as_not_done(check):
    result = check(skeleton(SOLUTION))
    assert result.passed == 0
    assert all("not done yet" in case.got for case in result.cases), repr(result)


def test_answer_passes_every_rule(check):
    result = check(answer(SOLUTION))
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == list(RULES)


def test_answer_passes_when_given_an_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        result = check_chat_server(server.address)  # its PID, for the CPU case, comes from the registry
    assert result.all_passed, repr(result)


def test_reference_server_passes(chat_server):
    result = check_chat_server(chat_server)  # grpc.aio: no thread pool
    assert result.all_passed, repr(result)


@pytest.mark.parametrize("mistake", ONE_RULE_BROKEN)
def test_a_wrong_answer_fails_only_the_rule_it_breaks_with_a_hint_that_names_it(check, mistake):
    source, rule, got, hint = ONE_RULE_BROKEN[mistake]
    result = check(source)
    assert failed(result) == {rule}, repr(result)
    assert got in result[rule].got and hint in result[rule].hint, repr(result)


def test_a_post_heard_by_one_subscriber_fails_fan_out(check):
    result = check(ONE_SUBSCRIBER_HEARS)
    # A room of 50 can only be filled, or measured, by a post that reaches all of them.
    assert failed(result) == {FAN_OUT, IDLE_CPU, ROOM}, repr(result)
    assert all("every subscriber's inbox" in result[label].hint for label in failed(result))


def test_a_busy_loop_is_named_as_the_cause_of_what_it_starves(check):
    result = check(BUSY_LOOP)
    # 50 spinning subscribers starve Posts too: whatever fails must blame the loop, never the fan-out
    assert IDLE_CPU in failed(result), repr(result)
    for label in failed(result):
        assert "busy loop" in result[label].hint and "every subscriber's inbox" not in result[label].hint, label


def test_a_pool_of_ten_cannot_hold_a_room_of_fifty(check):
    result = check(POOL_OF_TEN)
    # The CPU case needs the 50 subscribers in the room too; both name the pool the registry reports.
    assert failed(result) == {ROOM, IDLE_CPU}, repr(result)
    assert all("MAX_WORKERS = 10" in result[label].hint for label in failed(result))
