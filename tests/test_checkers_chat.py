"""check_chat_server fails the shipped skeleton and typical wrong servers, and passes the answer."""
from exercises import answer, skeleton, write_cell

import server_runner
from workshop.checkers.chat import check_chat_server

SOLUTION = "08_1_chat_server.py"


def wrong(replace: str, by: str) -> str:
    """The answer with one typical mistake put in."""
    source = answer(SOLUTION)
    assert replace in source, "the answer changed; update this wrong answer"
    return source.replace(replace, by)


BUSY_LOOP = wrong('''        while True:
            note = inbox.get()  # sleeps until a note (or None) arrives: no polling
            if note is None:
                return
            yield note''', '''        seen = len(self.room.history)
        while context.is_active():  # the source talk's server: asks "anything new?" without pause
            while seen < len(self.room.history):
                yield self.room.history[seen]
                seen += 1''')

ONLY_FIRST_SUBSCRIBER = wrong('''            for inbox in self.inboxes:
                inbox.put(stamped)''', '''            for inbox in list(self.inboxes)[:1]:
                inbox.put(stamped)''')

ACCEPTS_EMPTY_POSTS = wrong('''        problem = problem_with(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
''', '')

POOL_OF_TEN = wrong("MAX_WORKERS = 100", "MAX_WORKERS = 10")

NEVER_LEAVES = wrong('''        if not context.add_callback(lambda: self.room.leave(inbox)):
            self.room.leave(inbox)  # the call had already ended
''', "")  # a cancelled stream's thread sleeps in inbox.get() until the next Post wakes it

LEAVING = "subscribers that cancel leave, with no post to wake them"


def check(source, tmp_path):
    with server_runner.start(str(write_cell(source, tmp_path))) as server:
        result = check_chat_server(server)
    assert "Traceback" not in repr(result)
    return result


def test_skeleton_is_reported_as_not_done(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0
    assert all("not done yet" in case.got for case in result.cases)


def test_answer_passes_every_case(tmp_path):
    result = check(answer(SOLUTION), tmp_path)
    assert result.all_passed, repr(result)


def test_answer_passes_when_given_an_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        result = check_chat_server(server.address)
    assert result.all_passed, repr(result)
    assert "waiting subscribers cost no CPU (no busy loop)" in repr(result)  # found through the registry


def test_reference_server_passes(chat_server):
    result = check_chat_server(chat_server)
    assert result.all_passed, repr(result)


def test_busy_loop_is_caught_by_its_cpu_use(tmp_path):
    result = check(BUSY_LOOP, tmp_path)
    assert not result.all_passed
    case = result["waiting subscribers cost no CPU (no busy loop)"]
    assert not case.passed and "CPU" in case.got and "inbox.get()" in case.hint


def test_delivering_to_one_subscriber_only_fails_fan_out(tmp_path):
    result = check(ONLY_FIRST_SUBSCRIBER, tmp_path)
    case = result["a post reaches both of two subscribers"]
    assert not case.passed
    # which of the two hears the probes first varies: "1 of 2 subscribers received..." or "... missed a note"
    assert "every subscriber's inbox" in case.hint, case


def test_accepting_empty_posts_fails(tmp_path):
    result = check(ACCEPTS_EMPTY_POSTS, tmp_path)
    case = result["an empty message → INVALID_ARGUMENT"]
    assert not case.passed and "expected INVALID_ARGUMENT" in case.got
    assert not result["a 20,001-character message → INVALID_ARGUMENT"].passed


def test_a_pool_of_ten_stalls_a_room_of_fifty(tmp_path):
    result = check(POOL_OF_TEN, tmp_path)
    case = result["50 subscribers at once, and posts still get through"]
    assert not case.passed and "MAX_WORKERS" in case.hint
    assert result["a post reaches both of two subscribers"].passed, "only the room of fifty should fail"



def test_a_subscribe_that_never_leaves_the_room_is_caught(tmp_path):
    result = check(NEVER_LEAVES, tmp_path)
    case = result[LEAVING]
    assert not case.passed and "110 subscribers cancelled" in case.got and "add_callback" in case.hint
    assert [c.label for c in result.cases if not c.passed] == [LEAVING], "only the leaving case should fail"
