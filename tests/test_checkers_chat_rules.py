"""check_chat_server: each wrong answer of test_checkers_chat.ONE_RULE_BROKEN breaks only its rule, and each of
SEVERAL_RULES_BROKEN only its rules, with a hint that names the cause. A file of its own, so that the chat checker's
long tests run on both pytest-xdist workers."""
import pytest
from exercises import check_server_cell, failed
from test_checkers_chat import AT_ONCE, IDLE, LEAVES, ONE_RULE_BROKEN, REPLAY, SEVERAL_RULES_BROKEN

from workshop.checkers.chat import RULES, check_chat_server


@pytest.mark.parametrize("mistake", ONE_RULE_BROKEN)
def test_a_wrong_answer_fails_only_the_rule_it_breaks_with_a_hint_that_names_it(mistake, tmp_path, request):
    source, rule, got, hint = ONE_RULE_BROKEN[mistake]
    if rule != IDLE:  # a mistake that is no poll: a short quiet window shows it passes the idle case
        request.getfixturevalue("short_idle_window")
    if rule != LEAVES:  # a mistake that is no slow leaver: a busy machine must not make it look like one
        request.getfixturevalue("lenient_leaving")
    if rule != REPLAY:  # nor in the replay or the backlog: fewer notes posted meanwhile show that
        request.getfixturevalue("short_replay_case")
    if rule != AT_ONCE:  # nor a race: one crowd shows that
        request.getfixturevalue("one_crowd")
    result = check_server_cell(check_chat_server, source, tmp_path)
    assert failed(result) == {rule}, repr(result)
    assert got in result[rule].got and hint in result[rule].hint, repr(result)


@pytest.mark.usefixtures("short_idle_window", "lenient_leaving")  # none of them is a poll or a slow leaver
@pytest.mark.parametrize("mistake", SEVERAL_RULES_BROKEN)
def test_a_wrong_answer_fails_only_the_rules_it_breaks_each_with_a_hint_that_names_it(mistake, tmp_path, request):
    source, rules, racy, got, hint = SEVERAL_RULES_BROKEN[mistake]
    if REPLAY not in rules | racy:
        request.getfixturevalue("short_replay_case")
    if AT_ONCE not in rules | racy:
        request.getfixturevalue("one_crowd")
    result = check_server_cell(check_chat_server, source, tmp_path)
    assert rules <= failed(result) <= rules | racy, repr(result)
    first = next(label for label in RULES if label in rules)
    assert got in result[first].got, repr(result)
    assert all(hint in result[label].hint for label in failed(result)), repr(result)
