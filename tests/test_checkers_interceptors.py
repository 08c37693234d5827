"""check_request_ids (11.1): ✗ on the skeleton, ✓ on the answer, and each wrong answer below breaks one
rule of workshop.checkers.interceptors.RULES, with a hint that names its cause."""
import pytest
from exercises import answer, check_server_cell, failed, skeleton, write_cell, wrong, wrong_in_places

import server_runner
from workshop.checkers.interceptors import RULES, check_request_ids

SOLUTION = "11_1_request_ids.py"
REFUSE = '''            return refusing(handler, grpc.StatusCode.INVALID_ARGUMENT,
                            f"every call needs {HEADER} metadata of 1 to {LONGEST} characters")'''
CHECK = "if not request_id or len(request_id) > LONGEST:"
LOG = 'print(f"{handler_call_details.method} {HEADER}={request_id}", flush=True)'
HEALTH = '''        if handler_call_details.method.startswith("/grpc.health."):
            return handler  # health checks (the runner's, a load balancer's) carry no id of ours
'''
UNARY_TERMINATOR = '''            def refuse(request, context):  # as in grpc's example: a unary handler for all
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{HEADER} is missing")
            return grpc.unary_unary_rpc_method_handler(refuse)'''
RUNS_THEN_REFUSES = '''            behaviour = (handler.unary_unary or handler.unary_stream or handler.stream_unary
                         or handler.stream_stream)

            def run_then_refuse(request, context):  # "let it run, but tell the caller no"
                behaviour(request, context)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{HEADER} is missing")
            return wrapped(handler, lambda _: run_then_refuse)'''
COLLECTS = f'''        {LOG}
        if handler.request_streaming:  # "count the requests for the log"
            return wrapped(handler, lambda run: lambda requests, context: run(iter(list(requests)), context))'''

MESSAGE = 'f"every call needs {HEADER} metadata of 1 to {LONGEST} characters"'
IMPORT = "from workshop.interceptors import refusing"
LOGGED_AFTER = f'''        def logged(behaviour):  # "log once the call has been served"
            def run(request, context):
                answer = behaviour(request, context)
                {LOG}
                return answer
            return run
        return wrapped(handler, logged)'''
LOGGED_BY_THE_SERVICER = f'''        def logged(behaviour):  # "log as the call is served"
            def run(request, context):
                {LOG}
                return behaviour(request, context)
            return run
        return wrapped(handler, logged)'''
READS_FIRST = '''            def refuse(request_or_iterator, context):  # "read what was sent, then say no"
                if handler.request_streaming:
                    for _ in request_or_iterator:
                        pass
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"every call needs {HEADER}")
            from workshop.interceptors import wrapped
            return wrapped(handler, lambda _: refuse)'''
ECHOING = '''def echoing(handler, request_id, code, details):  # "tell the caller which id we saw"
    from workshop.interceptors import wrapped

    def refuse(_request, context):
        context.set_trailing_metadata(((HEADER, request_id),))
        context.abort(code, details)
    return wrapped(handler, lambda _: refuse)'''
WRONG = {  # name: (the answer with one mistake, the rules it breaks, words of the hint of the first)
    "the method's short name logged": (
        wrong(SOLUTION, LOG, LOG.replace("{handler_call_details.method}",
                                         "{handler_call_details.method.rsplit('/', 1)[-1]}")),
        {"logs"}, "with handler_call_details.method"),
    "a unary refusal for every mode": (wrong(SOLUTION, REFUSE, UNARY_TERMINATOR), {"refused"},
                                       "of the method's own kind"),
    "refused as PERMISSION_DENIED": (wrong(SOLUTION, "StatusCode.INVALID_ARGUMENT", "StatusCode.PERMISSION_DENIED"),
                                     {"refused", "bad ids"}, "INVALID_ARGUMENT"),
    "a refusal that names nothing": (wrong(SOLUTION, MESSAGE, '"not allowed"'), {"refused", "bad ids"},
                                     "name x-request-id"),
    "the servicer runs, then the refusal": (
        wrong_in_places(SOLUTION, {REFUSE: RUNS_THEN_REFUSES, IMPORT: IMPORT.replace("refusing", "wrapped")}),
        {"never runs"}, "must not be called"),
    "any id at all": (wrong(SOLUTION, CHECK, "if not request_id:"), {"bad ids"}, "as good as none"),
    "the refusal repeats the id": (wrong(SOLUTION, MESSAGE, 'f"{HEADER} {request_id!r} is not 1 to {LONGEST} long"'),
                                   {"bad ids"}, "never put what the caller sent"),
    "collects a request stream before serving it": (
        wrong_in_places(SOLUTION, {f"        {LOG}": COLLECTS, IMPORT: IMPORT + ", wrapped"}),
        {"passes on"}, "must not read the request stream"),
    "reflection v1 let through": (wrong(SOLUTION, 'handler_call_details.method.startswith("/grpc.health.")',
                                        'handler_call_details.method.startswith(("/grpc.health.", '
                                        '"/grpc.reflection.v1."))'), {"refused"}, "not every /grpc. service"),
    "logs nothing": (wrong(SOLUTION, LOG, "pass"), {"logs"}, "print one line"),
    "an id of one character refused": (wrong(SOLUTION, CHECK, CHECK.replace("not request_id", "len(request_id) < 2")),
                                       {"bad ids"}, "of 1 to 64 characters"),
    "an id of spaces alone refused": (wrong(SOLUTION, CHECK, CHECK.replace("not request_id", "not request_id.strip()")),
                                      {"bad ids"}, "spaces alone too"),
    "an id with a comma refused": (wrong(SOLUTION, CHECK, CHECK.replace("not request_id", 'not request_id or "," in '
                                                                        "request_id")), {"bad ids"},
                                   "whatever characters it holds"),
    "Check and Watch let through, not List": (
        wrong(SOLUTION, 'handler_call_details.method.startswith("/grpc.health.")',
              'handler_call_details.method in ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch")'),
        {"health"}, "Check, Watch and List"),
    "an id used twice refused": (wrong(SOLUTION, f"        {LOG}", f"""\
        if request_id in SEEN:
            return refusing(handler, grpc.StatusCode.ALREADY_EXISTS, "this request id was used already")
        SEEN.add(request_id)
        {LOG}""").replace("class RequestIds", "SEEN = set()\n\n\nclass RequestIds"),
                                 {"passes on", "logs"}, "need not be new"),  # logs: the same id twice
    "an id logged once, however often it comes": (wrong(SOLUTION, f"        {LOG}", f"""\
        if request_id not in SEEN:
            SEEN.add(request_id)
            {LOG}""").replace("class RequestIds", "SEEN = set()\n\n\nclass RequestIds"),
                                                  {"logs"}, "each time"),
    "logs without the method": (wrong(SOLUTION, LOG, 'print(f"call {HEADER}={request_id}", flush=True)'), {"logs"},
                                "handler_call_details.method"),
    "an id of exactly 64 refused": (wrong(SOLUTION, CHECK, CHECK.replace("> LONGEST", ">= LONGEST")), {"bad ids"},
                                    "includes 64"),
    "every /grpc. service let through": (wrong(SOLUTION, '"/grpc.health."', '"/grpc."'), {"refused"},
                                         "not every /grpc. service"),
    "the refusal repeats ten characters": (wrong(SOLUTION, MESSAGE, 'f"bad {HEADER} {request_id[:10]}"'),
                                           {"bad ids"}, "never put what the caller sent"),
    "logged after the servicer answered": (wrong_in_places(SOLUTION, {
        f"        {LOG}\n        return handler": LOGGED_AFTER, IMPORT: IMPORT + ", wrapped"}), {"logs"},
        "before you return the handler"),
    "only Check let through, not Watch": (wrong(SOLUTION, 'handler_call_details.method.startswith("/grpc.health.")',
                                                'handler_call_details.method == "/grpc.health.v1.Health/Check"'),
                                          {"health"}, "Check, Watch and List"),
    "the refusal repeats seven characters": (wrong(SOLUTION, MESSAGE, 'f"bad {HEADER}: {request_id[:7]}..."'),
                                             {"bad ids"}, "nothing of the id"),
    "the refusal repeats the id in capitals": (wrong(SOLUTION, MESSAGE, 'f"bad {HEADER}: {request_id.upper()}"'),
                                               {"bad ids"}, "nothing of the id"),
    "logs without a newline": (wrong(SOLUTION, LOG, 'sys.stdout.write(f"{handler_call_details.method} '
                                                    '{HEADER}={request_id} "); sys.stdout.flush()').replace(
        "import grpc\n", "import sys\n\nimport grpc\n"), {"logs"}, "a newline"),
    "logged by the servicer's behaviour": (wrong_in_places(SOLUTION, {
        f"        {LOG}\n        return handler": LOGGED_BY_THE_SERVICER, IMPORT: IMPORT + ", wrapped"}), {"logs"},
        "fails before it runs"),
    "logs part of the id": (wrong(SOLUTION, LOG, LOG.replace("{request_id}", "{request_id[:16]}")), {"logs"},
                            "log the id whole"),
    "logs the id cut at 48": (wrong(SOLUTION, LOG, LOG.replace("{request_id}", "{request_id[:48]}")), {"logs"},
                              "log the id whole"),
    "a refusal that reads the requests first": (wrong(SOLUTION, REFUSE, READS_FIRST), {"refused"},
                                                "before any request is read"),
    "a fallback to another header": (wrong(SOLUTION, 'dict(handler_call_details.invocation_metadata).get(HEADER, "")',
                                           '(lambda pairs: pairs.get(HEADER) or pairs.get("x-correlation-id") or '
                                           'pairs.get("request-id", ""))(dict('
                                           'handler_call_details.invocation_metadata))'),
                                     {"refused"}, "only x-request-id counts"),
    "a binary id taken for the id": (wrong(SOLUTION, 'dict(handler_call_details.invocation_metadata).get(HEADER, "")',
                                           '(lambda pairs: pairs.get(HEADER) or pairs.get(HEADER + "-bin", b"").decode('
                                           '"utf-8", "replace"))(dict(handler_call_details.invocation_metadata))'),
                                     {"refused"}, "only x-request-id counts"),
    "health refused an id too long": (wrong_in_places(SOLUTION, {
        '        if handler_call_details.method.startswith("/grpc.health."):\n':
        '        if len(dict(handler_call_details.invocation_metadata).get(HEADER, "")) > LONGEST:\n'
        '            return refusing(handler, grpc.StatusCode.INVALID_ARGUMENT, "x-request-id: 1 to 64 characters")\n'
        '        if handler_call_details.method.startswith("/grpc.health."):\n'}), {"health"},
        "health checks go through unchanged"),
    "the id sent back in trailing metadata": (wrong(SOLUTION, REFUSE, REFUSE.replace(
        "return refusing(handler,", "return echoing(handler, request_id,")).replace(
        "class RequestIds", ECHOING + "\n\nclass RequestIds"), {"bad ids"}, "in metadata (initial or trailing)"),
    "ids stripped of their spaces": (wrong(SOLUTION, 'dict(handler_call_details.invocation_metadata).get(HEADER, "")',
                                           'dict(handler_call_details.invocation_metadata).get(HEADER, "").strip()'),
                                     {"bad ids", "logs"}, "spaces alone too"),  # an id of spaces alone is refused
    "the id logged in lowercase": (wrong(SOLUTION, LOG, LOG.replace("{request_id}", "{request_id.lower()}")),
                                   {"logs"}, "print one line"),
    "the id sent back in initial metadata, in capitals": (wrong(SOLUTION, REFUSE, REFUSE.replace(
        "return refusing(handler,", "return echoing(handler, request_id,")).replace(
        "class RequestIds", ECHOING.replace("context.set_trailing_metadata(((HEADER, request_id),))",
                                            "context.send_initial_metadata(((HEADER + '-was', request_id.upper()),))")
        + "\n\nclass RequestIds"), {"bad ids"}, "changed or not"),
    "ids of letters, digits and dashes only": (wrong(SOLUTION, CHECK, 'if not request_id or len(request_id) > LONGEST '
                                                     'or not request_id.replace("-", "").isalnum():'),
                                               {"bad ids", "logs"}, "whatever characters it holds"),  # logs: spaces
}


def check(source, folder):
    return check_server_cell(check_request_ids, source, folder)


@pytest.mark.parametrize("mistake", WRONG)
def test_a_wrong_answer_fails_only_the_rules_it_breaks_with_a_hint_that_names_it(mistake, tmp_path):
    source, broken, words = WRONG[mistake]
    result = check(source, tmp_path)
    assert failed(result) == {RULES[name] for name in broken}, repr(result)
    assert words in result[RULES[sorted(broken, key=list(RULES).index)[0]]].hint, repr(result)


def test_every_rule_has_a_wrong_answer_that_breaks_it():
    # (One that refuses every health check never starts: the next test.)
    assert {name for _, broken, _ in WRONG.values() for name in broken} == set(RULES)


def test_an_interceptor_that_refuses_health_checks_is_told_so_before_any_case(tmp_path):
    module = write_cell(wrong(SOLUTION, HEALTH, ""), tmp_path)
    with pytest.raises(server_runner.ServerStartError, match="refused its health check: INVALID_ARGUMENT"):
        server_runner.start(str(module))
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        (tmp_path / "my_request_ids.py").write_text(wrong(SOLUTION, HEALTH, "").partition("\n")[2])
        result = check_request_ids(server)  # its fresh copy runs the module as it is now
    assert result.passed == 0, repr(result)
    assert all("refused its health check" in case.got and "/grpc.health." in case.hint for case in result.cases)


def test_the_skeleton_fails_every_refusal_and_passes_calls_on(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert failed(result) == {RULES["refused"], RULES["never runs"], RULES["bad ids"], RULES["logs"]}, repr(result)
    assert "nothing refused it" in result[RULES["refused"]].got, repr(result)


def test_the_answer_passes_every_rule(tmp_path):
    assert check(answer(SOLUTION), tmp_path).all_passed


def test_a_key_read_with_capitals_is_told_that_metadata_keys_are_lowercase(tmp_path):
    result = check(wrong(SOLUTION, ".get(HEADER,", ".get(HEADER.title(),"), tmp_path)
    assert "keys arrive in lowercase" in result[RULES["passes on"]].hint, repr(result)


def test_an_interceptor_that_raises_is_told_its_line(tmp_path):
    result = check(wrong(SOLUTION, "return refusing(handler,", "return refusing(continuation,"), tmp_path)
    assert "my_request_ids.py, line" in result[RULES["refused"]].got, repr(result)


def test_a_reader_of_the_last_pair_only_is_told_the_call_carried_an_id(tmp_path):
    last_only = wrong(SOLUTION, 'dict(handler_call_details.invocation_metadata).get(HEADER, "")',
                      '(lambda pairs: pairs[-1][1] if pairs and pairs[-1][0] == HEADER else "")('
                      'handler_call_details.invocation_metadata)')
    result = check(last_only, tmp_path)
    assert "read it among all the pairs" in result[RULES["passes on"]].hint, repr(result)
    assert "includes 64" not in result[RULES["bad ids"]].hint, repr(result)


def test_an_interceptor_that_returns_nothing_for_a_good_call_is_told_to_return_the_handler(tmp_path):
    result = check(wrong(SOLUTION, "        return handler\n\n\nINTERCEPTORS", "\n\nINTERCEPTORS"), tmp_path)
    assert "returned None" in result[RULES["passes on"]].hint, repr(result)
