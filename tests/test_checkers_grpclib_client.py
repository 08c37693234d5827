"""Notebook 09's checker for 9.2 (count_known, a grpclib client): ✗ "not done yet" on the skeleton, ✓ on the
answer, and each wrong answer breaks the rules it is written for, with a hint that names its cause."""
import asyncio
import time

import pytest
from exercises import answer, skeleton, wrong

from workshop.checkers.grpclib_client import RULES as CLIENT_RULES
from workshop.checkers.grpclib_client import check_count_known
from workshop.protos import users_pb2

CLIENT = "09_2_count_known.py"
COUNTS, NO_IDS, ERROR, ONE_CALL, DEADLINE, LOOP_FREE = (
    CLIENT_RULES[rule] for rule in ("counts", "empty", "error", "one call", "deadline", "loop free"))


def client(source: str):
    """The learner's count_known, as the exercise cell defines it (users_pb2 comes from the first cell)."""
    namespace = {"users_pb2": users_pb2, "asyncio": asyncio, "time": time}
    exec(source, namespace)
    return namespace["count_known"]


def test_client_skeleton_is_reported_as_not_done():
    result = check_count_known(client(skeleton(CLIENT)))
    assert result.passed == 0 and all("not done yet" in case.got for case in result.cases), repr(result)


def test_client_answer_passes_every_rule():
    result = check_count_known(client(answer(CLIENT)))
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == list(CLIENT_RULES.values())


END = '        await stream.end()  # "that was all": only now does the server count\n'
SEND_REQUEST = "        await stream.send_request()  # the call's headers: the call is made even when no id follows\n"
STREAMED = answer(CLIENT)[answer(CLIENT).index(SEND_REQUEST):]
ONE_CALL_PER_ID = wrong(CLIENT, STREAMED, """        await stream.send_request()
        await stream.end()
        total = (await stream.recv_message()).count
    for user_id in ids:  # a call of its own for each id
        async with stub.CountAlreadyUsers.open(timeout=1) as stream:
            await stream.send_message(users_pb2.UserRequest(id=user_id), end=True)
            total += (await stream.recv_message()).count
    return total
""")
NO_CALL_FOR_NO_IDS = "    if not ids:\n        return 0\n    async with stub"
CLIENT_SIDE_DEADLINE = wrong(CLIENT, ".open(timeout=1)", ".open()").replace(
    "    async with stub", "    return await asyncio.wait_for(counted(stub, ids), 1)\n\n\n"
    "async def counted(stub, ids):\n    async with stub")
RETURN = "    return reply.count"
GUARDED = "    from grpclib import GRPCError\n\n    try:\n      async with stub"  # the call, in a try
SECOND_TRY = ("    from grpclib import GRPCError\n\n    try:\n        return await once(stub, ids)\n"
              "    except GRPCError:\n        return await once(stub, ids)\n\n\nasync def once(stub, ids):\n"
              "    async with stub")
AGAIN_AFTER_A_TIMEOUT = ("    try:\n        return await once(stub, ids)\n    except asyncio.TimeoutError:\n"
                         "        return await once(stub, ids)\n\n\nasync def once(stub, ids):\n    async with stub")
REFUSED_AGAIN = ("    try:\n        return await once(stub, ids)\n    except ConnectionRefusedError:\n"
                 "        return await once(stub, ids)\n\n\nasync def once(stub, ids):\n    async with stub")
BATCHED = ("    total = 0\n    for start in range(0, max(len(ids), 1), 100):  # \"not too many at once\"\n"
           "        total += await once(stub, ids[start:start + 100])\n    return total\n\n\n"
           "async def once(stub, ids):\n    async with stub")
CLIENT_WRONG = {  # the mistake: (the function, the rules it breaks, what the first ✗ line and its hint say)
    # the refusing server answers once the ids are in: never ending the stream hides its refusal too
    "never ends its side of the stream": (wrong(CLIENT, END, ""), [COUNTS, NO_IDS, ERROR, ONE_CALL],
                                          ["got no answer from a server that answers at once", "await stream.end()"]),
    "opens no call when there are no ids": (wrong(CLIENT, SEND_REQUEST, ""), [NO_IDS, ONE_CALL],
                                            ["grpclib refused: Request was not sent", "stream.send_request()"]),
    "sends only the first hundred ids": (wrong(CLIENT, "for user_id in ids:", "for user_id in ids[:100]:"), [COUNTS],
                                         ["gave 100; expected 300", "send every id"]),
    "returns the reply, not its count": (wrong(CLIENT, "return reply.count", "return reply"), [COUNTS, NO_IDS],
                                         ["gave a UserCountResponse", "return reply.count"]),
    "turns an error into 0": (wrong(CLIENT, "    async with stub", "    from grpclib import GRPCError\n\n    try:\n"
                                    "      async with stub").replace("    return reply.count",
                                                                     "    except GRPCError:\n        return 0\n"
                                                                     "    return reply.count"), [ERROR],
                              ["count_known gave 0", "let the GRPCError rise"]),
    "one call per id": (ONE_CALL_PER_ID, [ONE_CALL], ["expected one call carrying [3, 0, 1, -4, 2, 2]",
                                                      "not one call per id"]),
    "each id once": (wrong(CLIENT, "for user_id in ids:", "for user_id in sorted(set(ids)):"), [ONE_CALL],
                     ["carrying [[-4, 0, 1, 2, 3]]", "a repeated one too"]),
    "send_message not awaited": (wrong(CLIENT, "await stream.send_message(", "stream.send_message("),
                                 [COUNTS, ONE_CALL], ["gave 0; expected 300", "send every id"]),
    "a blocking sleep after the call": (wrong(CLIENT, RETURN, '    time.sleep(0.5)  # "rate-limit"\n' + RETURN),
                                        [LOOP_FREE], ["stood still for 0.", "time.sleep"]),
    "a blocking back-off on errors": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except GRPCError:\n        time.sleep(0.3)\n        raise\n" + RETURN),
        [LOOP_FREE], ["stood still for 0.", "time.sleep"]),
    "a second call when the first is refused": (wrong(CLIENT, "    async with stub", SECOND_TRY),
                                                [ONE_CALL], ["made 32 calls where 16", "let its GRPCError rise"]),
    "a second call after a timeout": (wrong(CLIENT, "    async with stub", AGAIN_AFTER_A_TIMEOUT),
                                      [DEADLINE], ["made 2 calls", "let the TimeoutError of the first call rise"]),
    "NOT_FOUND turned into 0": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except GRPCError as error:\n        if error.status.name == 'NOT_FOUND':\n            return 0\n"
        "        raise\n" + RETURN), [ERROR], ["refuses with NOT_FOUND, count_known gave 0", "whatever its status"]),
    "ids no user can have left out": (wrong(CLIENT, "for user_id in ids:", "for user_id in [i for i in ids if i > 0]:"),
                                      [ONE_CALL], ["carrying [[3, 1, 2, 2]]", "0, a negative one"]),
    "UNAVAILABLE turned into 0": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except GRPCError as error:\n        if error.status.name == 'UNAVAILABLE':\n            return 0\n"
        "        raise\n" + RETURN), [ERROR], ["refuses with UNAVAILABLE, count_known gave 0", "whatever its status"]),
    "a second call after UNAVAILABLE": (wrong(CLIENT, "    async with stub", SECOND_TRY.replace(
        "    except GRPCError:\n", "    except GRPCError as error:\n        if error.status.name != 'UNAVAILABLE':\n"
        "            raise\n")), [ONE_CALL], ["made 17 calls where 16", "let its GRPCError rise"]),
    "the server's words replaced": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except GRPCError as error:\n        raise GRPCError(error.status, 'counting failed')\n" + RETURN),
        [ERROR], ["said 'counting failed'", "its message is the server's words"]),
    "the GRPCError made anew, its details lost": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except GRPCError as error:\n        raise GRPCError(error.status, error.message) from None\n"
        + RETURN), [ERROR], ["had no such details", "one made anew loses the details"]),
    "a refusal turned into a RuntimeError": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except GRPCError as error:\n        raise RuntimeError(f'count failed: {error.message}')\n"
        + RETURN), [ERROR], ["but RuntimeError rose", "an exception of your own hides them"]),
    "a timeout of 0.8 s": (wrong(CLIENT, ".open(timeout=1)", ".open(timeout=0.8)"), [DEADLINE],
                           ["carried a deadline of 0.8", "open(timeout=1)"]),
    "the stream cancelled in a finally": (wrong(CLIENT, "        reply = await stream.recv_message()\n",
                                                "        try:\n            reply = await stream.recv_message()\n"
                                                "        finally:\n            await stream.cancel()  # \"always "
                                                "clean up\"\n"), [COUNTS, NO_IDS, ERROR, ONE_CALL, LOOP_FREE],
                                          ["StreamClosedError", "no stream.cancel()"]),
    "a refused connection turned into 0": (wrong(CLIENT, "    async with stub",
                                                 "    try:\n      async with stub").replace(
        RETURN, "    except ConnectionError:\n        return 0\n" + RETURN), [ERROR],
        ["a server that is not there, count_known gave 0", "a refused connection too"]),
    "asked again when the count is 0": (wrong(CLIENT, "    async with stub", SECOND_TRY.replace(
        "    try:\n        return await once(stub, ids)\n    except GRPCError:\n        return await once(stub, ids)",
        "    count = await once(stub, ids)\n    if count == 0 and ids:\n        count = await once(stub, ids)\n"
        "    return count")), [ONE_CALL], ["which no user has, the server got 2 calls", "a count of 0 is an answer"]),
    "ids made positive": (wrong(CLIENT, "users_pb2.UserRequest(id=user_id)", "users_pb2.UserRequest(id=abs(user_id))"),
                          [ONE_CALL], ["carrying [[3, 0, 1, 4, 2, 2]]", "unchanged"]),
    "ids sorted": (wrong(CLIENT, "for user_id in ids:", "for user_id in sorted(ids):"), [ONE_CALL],
                   ["expected one call carrying [3, 0, 1, -4, 2, 2]", "as given"]),
    "a blocking sleep while it waits": (wrong(CLIENT, END, END + "        time.sleep(0.3)  # \"give it a moment\"\n"),
                                        [LOOP_FREE], ["stood still for 0.", "time.sleep"]),
    "no call for no ids": (wrong(CLIENT, "    async with stub", NO_CALL_FOR_NO_IDS), [ONE_CALL],
                           ["made no call at all", "send_request"]),
    "a deadline kept by the client alone": (CLIENT_SIDE_DEADLINE, [DEADLINE],
                                            ["carried no deadline", "not asyncio.wait_for"]),
    "no timeout": (wrong(CLIENT, ".open(timeout=1)", ".open()"), [DEADLINE],
                   ["waited 8 s for a server that did not answer", "open(timeout=1)"]),
    "a timeout of 2 s": (wrong(CLIENT, ".open(timeout=1)", ".open(timeout=2)"), [DEADLINE],
                         ["carried a deadline of 2.0 s", "open(timeout=1)"]),
    "a timeout caught, None returned": (wrong(CLIENT, "    async with stub", "    try:\n      async with stub").replace(
        RETURN, "    except asyncio.TimeoutError:\n        return None\n" + RETURN), [DEADLINE],
        ["count_known gave None", "let the TimeoutError rise"]),
    "a timeout far too short": (wrong(CLIENT, ".open(timeout=1)", ".open(timeout=0.1)"), [DEADLINE],
                                ["it gave up after 0.1", "open(timeout=1)"]),
    "ids sent in calls of 100": (wrong(CLIENT, "    async with stub", BATCHED), [ONE_CALL],
                                 ["made 3 calls", "one call, however many ids"]),
    "a refused connection tried again at once": (wrong(CLIENT, "    async with stub", REFUSED_AGAIN), [ERROR],
                                                 ["made 2 calls", "make one call"]),
    "a refused connection tried again after a pause": (wrong(CLIENT, "    async with stub", REFUSED_AGAIN.replace(
        "    except ConnectionRefusedError:\n",
        "    except ConnectionRefusedError:\n        await asyncio.sleep(0.3)\n")),
        [ERROR], ["made 2 calls", "make one call"]),
    "a refused connection rewrapped": (wrong(CLIENT, "    async with stub", REFUSED_AGAIN.replace(
        "        return await once(stub, ids)\n\n\nasync", "        raise RuntimeError('the users server is down')"
        "\n\n\nasync", 1)), [ERROR], ["RuntimeError rose", "as it came"]),
    "a refused connection made a GRPCError": (wrong(CLIENT, "    async with stub", REFUSED_AGAIN.replace(
        "        return await once(stub, ids)\n\n\nasync", "        from grpclib import GRPCError\n        from "
        "grpclib.const import Status\n        raise GRPCError(Status.UNAVAILABLE, 'users server is down')\n\n\nasync",
        1)), [ERROR], ["GRPCError rose", "as it came"]),
    "the caller's list emptied as it is sent": (wrong(CLIENT, "        for user_id in ids:\n",
                                                      "        while ids:\n            user_id = ids.pop(0)\n"),
                                                [ONE_CALL], ["left the list it was given as []", "change nothing"]),
    "the caller's list sorted in place": (wrong(CLIENT, "        for user_id in ids:\n",
                                                "        ids.sort()\n        for user_id in ids:\n"),
                                          [ONE_CALL], ["left the list it was given as [-4, 0, 1, 2, 2, 3]",
                                                       "over sorted(ids), a copy"]),
    "a cancellation kept to itself": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except asyncio.CancelledError:\n        return 0\n" + RETURN).replace(
        "    from grpclib import GRPCError\n\n", ""), [DEADLINE], ["kept the cancellation to itself",
                                                               "never catch asyncio.CancelledError"]),
    "the call shielded from a cancellation": (wrong(CLIENT, "    async with stub", "    return await asyncio.shield("
                                                "counted(stub, ids))\n\n\nasync def counted(stub, ids):\n"
                                                "    async with stub"), [DEADLINE], ["its call went on",
                                                                                       "asyncio.shield"]),
    "a cancellation made a TimeoutError": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except asyncio.CancelledError:\n        raise asyncio.TimeoutError('count_known was cancelled')\n"
        + RETURN).replace("    from grpclib import GRPCError\n\n", ""), [DEADLINE],
        ["raised TimeoutError: it kept the cancellation to itself", "never catch asyncio.CancelledError"]),
    "a cancellation that waits before it ends": (wrong(CLIENT, "    async with stub", GUARDED).replace(
        RETURN, "    except asyncio.CancelledError:\n        await asyncio.sleep(0.5)  # 'let it settle'\n"
        "        raise\n" + RETURN).replace("    from grpclib import GRPCError\n\n", ""), [DEADLINE],
        ["s more to end", "at once"]),
}


@pytest.mark.parametrize("mistake", CLIENT_WRONG)
def test_client_wrong_answer_breaks_only_its_rules(mistake):
    source, rules, (got, hint) = CLIENT_WRONG[mistake]
    result = check_count_known(client(source))
    broken = [case.label for case in result.cases if not case.passed]
    # a 0.1 s deadline can also cut short 301 sends on a busy machine: the deadline's case must say why
    assert broken == rules or (mistake == "a timeout far too short" and broken[-1:] == rules), repr(result)
    assert got in result[rules[0]].got and hint in result[rules[0]].hint, repr(result)


def test_a_client_that_is_not_async_is_told_to_be():
    result = check_count_known(lambda stub, ids: 0)
    assert result.passed == 0 and "is not an async def" in result.cases[0].got, repr(result)


def test_an_unawaited_send_message_is_told_to_await_it():
    result = check_count_known(client(CLIENT_WRONG["send_message not awaited"][0]))
    assert "await each send_message" in result[ONE_CALL].hint, repr(result)


def test_a_producer_that_awaits_between_ids_passes_even_against_a_refusal():
    send = "await stream.send_message(users_pb2.UserRequest(id=user_id))"
    awaits = wrong(CLIENT, send, send + "\n            await asyncio.sleep(0.001)  # a real producer awaits")
    assert check_count_known(client(awaits)).all_passed


def test_a_stream_never_ended_is_told_so_where_a_refusal_never_came():
    """Not "an exception of your own": the refusal the server holds until the ids are in never came."""
    result = check_count_known(client(wrong(CLIENT, END, "")))
    assert "but TimeoutError rose" in result[ERROR].got and "await stream.end()" in result[ERROR].hint, repr(result)
