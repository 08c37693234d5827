"""check_tokens (13.1): ✗ on the skeleton, ✓ on the answer, and each wrong answer below breaks one rule of
workshop.checkers.tokens.RULES, with a hint that names its cause."""
import pytest
from exercises import answer, check_server_cell, failed, skeleton, wrong, wrong_in_places

from workshop.checkers.tokens import RULES, check_tokens

SOLUTION = "13_1_bearer_tokens.py"
WHO = 'who = who_holds(token) if scheme == "Bearer" else None'
UNKNOWN = '''            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED,
                            "this service wants a token: authorization metadata of the form 'Bearer <token>'")'''
DENIED = 'return refusing(handler, grpc.StatusCode.PERMISSION_DENIED, f"{who} may not call {method}")'
METADATA = 'dict(handler_call_details.invocation_metadata).get("authorization", "")'
ANY_VALUE = ('next((v for _, v in handler_call_details.invocation_metadata if v.startswith("Bearer ")), "") or '
             'next((f"Bearer {v}" for k, v in handler_call_details.invocation_metadata '
             'if k != "authorization" and who_holds(v)), "")')
ECHOED = '''            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED,
                            f"unknown token {token!r}: this service wants authorization: Bearer <token>")'''
RUNS_THEN_REFUSES = '''            behaviour = handler.unary_unary

            def run_then_refuse(request, context):  # "do it, but say no"
                behaviour(request, context)
                context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{who} may not call {method}")
            return grpc.unary_unary_rpc_method_handler(run_then_refuse, handler.request_deserializer,
                                                       handler.response_serializer)'''
READS_FIRST = '''            def refuse(request_or_iterator, context):  # "read what was sent, then say no"
                if handler.request_streaming:
                    for _ in request_or_iterator:
                        pass
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "this service wants a token in authorization")
            from workshop.interceptors import wrapped
            return wrapped(handler, lambda _: refuse)'''
def remembering(part: str) -> str:
    """The answer, with the holder of a good token remembered by `part` of it ("token[:5]"): a later call whose token
    shares that part is let through as that holder."""
    return wrong_in_places(SOLUTION, {
        '        who = who_holds(token) if scheme == "Bearer" else None\n':
        '        who = who_holds(token) if scheme == "Bearer" else None\n'
        f'        if who is None and scheme == "Bearer" and len(token) > 5:\n            who = KNOWN.get({part})\n'
        f'        if who:\n            KNOWN[{part}] = who\n',
        "class BearerTokens": "KNOWN = {}\n\n\nclass BearerTokens"})


READS_ONE = '''            def refuse(request_or_iterator, context):  # "look at the first request, then say no"
                if handler.request_streaming:
                    next(request_or_iterator, None)
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "this service wants a token in authorization")
            from workshop.interceptors import wrapped
            return wrapped(handler, lambda _: refuse)'''
STREAM_RUNS_FIRST = '''            if handler.unary_stream:  # "let it start, then stop it"
                def refuse(request, context):
                    for _ in handler.unary_stream(request, context):
                        break
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, "this service wants a token in authorization")
                    yield
                return grpc.unary_stream_rpc_method_handler(refuse, handler.request_deserializer,
                                                            handler.response_serializer)
            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED,
                            "this service wants a token: authorization metadata of the form 'Bearer <token>'")'''
SENDS_FIRST = '''            if handler.unary_stream:  # "an empty user first, so the client sees something"
                def refuse(request, context):
                    from workshop.protos import users_pb2
                    yield users_pb2.UserResponse(user=users_pb2.User())
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, "this service wants a token in authorization")
                return grpc.unary_stream_rpc_method_handler(refuse, handler.request_deserializer,
                                                            handler.response_serializer)
            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED,
                            "this service wants a token: authorization metadata of the form 'Bearer <token>'")'''
COLLECTS = '''        if handler.request_streaming:  # "look at what comes"
            from workshop.interceptors import wrapped
            return wrapped(handler, lambda run: lambda requests, context: run(iter(list(requests)), context))
        return handler


INTERCEPTORS'''

REFUSE = ("        if who is None:  # who is calling is not known\n"
          "            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED,")
SPLIT = f'        scheme, _, token = credentials.partition(" ")\n        {WHO}\n'

WRONG = {  # the mistake: (the module, the rule it breaks, words of its hint)
    "only Check let through": (wrong(SOLUTION, 'method.startswith("/grpc.health.")',
                                     'method == "/grpc.health.v1.Health/Check"'), "health", "Check, Watch and List"),
    "every /grpc. service let through": (wrong(SOLUTION, 'method.startswith("/grpc.health.")',
                                               'method.startswith("/grpc.")'), "no token", "not every /grpc. service"),
    "the scheme found anywhere in the value": (wrong(SOLUTION, SPLIT, """\
        found = re.search(r"Bearer (\\S+)$", credentials)
        who = who_holds(found.group(1)) if found else None
""").replace("import grpc\n", "import re\n\nimport grpc\n"), "bad tokens", "take the token as sent"),
    "Token taken as a scheme too": (wrong(SOLUTION, 'if scheme == "Bearer"', 'if scheme in ("Bearer", "Token")'),
                                    "bad tokens", "take the token as sent"),
    "'=' taken as the separator too": (wrong(SOLUTION, 'scheme, _, token = credentials.partition(" ")',
                                             'scheme, _, token = credentials.replace("=", " ", 1).partition(" ")'),
                                       "bad tokens", "take the token as sent"),
    "a doubled scheme taken off": (wrong(SOLUTION, 'scheme, _, token = credentials.partition(" ")',
                                         'scheme, _, token = credentials.partition(" ")\n'
                                         '        while token.startswith("Bearer "):\n            token = token[7:]'),
                                   "bad tokens", "take the token as sent"),
    "words of no use for a token that will not do": (wrong(SOLUTION, REFUSE, """\
        if who is None and credentials:
            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED, "access denied")
""" + REFUSE), "bad tokens", "say what is wanted"),
    "everyone locked out after 90 refusals": (wrong(SOLUTION, REFUSE, REFUSE.replace(
        "        if who is None:", "        if who is None or FAILED[0] >= 90:\n            FAILED[0] += 1\n"
        "            who = None\n        if who is None:")).replace("class BearerTokens", "FAILED = [0]\n\n\n"
                                                                     "class BearerTokens"),
                                              "every call", "judge every call on its own"),
    "reflection v1 let through": (wrong(SOLUTION, 'method.startswith("/grpc.health.")',
                                        'method.startswith(("/grpc.health.", "/grpc.reflection.v1."))'),
                                  "no token", "reflection tells a stranger your whole contract"),
    "the scheme checked by its start": (wrong(SOLUTION, 'if scheme == "Bearer"',
                                              'if scheme.lower().startswith("bearer")'),
                                        "bad tokens", "take the token as sent"),
    "the token under any key that holds authorization": (wrong(
        SOLUTION, 'credentials = dict(handler_call_details.invocation_metadata).get("authorization", "")',
        'credentials = next((value for key, value in handler_call_details.invocation_metadata\n'
        '                            if "authorization" in key), "")'), "bad tokens", "look for the token in"),
    "angle brackets taken off the token": (wrong(SOLUTION, "who_holds(token)", 'who_holds(token.strip("<>"))'),
                                           "bad tokens", "take the token as sent"),
    "a guest's reflection denied": (wrong(SOLUTION, "if not may_call(who, method):",
                                          'if not may_call(who, method) or (who != "alice" and not '
                                          'method.startswith("/users.v1.")):'), "permission", "a guest reads"),
    "the token printed in the log": (wrong(SOLUTION, REFUSE, '        if who is None:\n            print(f"refused '
                                           '{method}: {credentials!r}", flush=True)\n' + REFUSE), "bad tokens",
                                     "print nothing of a token"),
    "a token found by its start": (wrong(SOLUTION, WHO, 'who = next((name for known, name in TOKENS.items() if '
                                         'token.startswith(known)), None) if scheme == "Bearer" else None').replace(
        "from workshop.tokens import may_call, who_holds", "from workshop.tokens import TOKENS, may_call, who_holds"),
        "bad tokens", "that exact token"),
    "a token found inside the value": (wrong(SOLUTION, WHO, 'who = next((name for known, name in TOKENS.items() if '
                                             'token in known), None) if token else None').replace(
        "from workshop.tokens import may_call, who_holds", "from workshop.tokens import TOKENS, may_call, who_holds"),
        "bad tokens", "that exact token"),
    "an '=' taken off the token's end": (wrong(SOLUTION, "who_holds(token)", 'who_holds(token.rstrip("="))'),
                                         "bad tokens", "take the token as sent"),
    "the token up to a comma": (wrong(SOLUTION, "who_holds(token)", 'who_holds(token.split(",")[0])'),
                                "bad tokens", "take the token as sent"),
    "the token in any case": (wrong(SOLUTION, "who_holds(token)", "who_holds(token.lower())"), "bad tokens",
                              "that exact token"),
    "the scheme stripped if present": (wrong(SOLUTION, WHO, 'who = who_holds(credentials.removeprefix("Bearer "))'),
                                       "bad tokens", "the scheme must be Bearer"),
    "any scheme's last word": (wrong(SOLUTION, WHO, "who = who_holds(credentials.split()[-1]) if credentials "
                                                    "else None"),
                               "bad tokens", "the scheme must be Bearer"),
    "the token under any key": (wrong(SOLUTION, METADATA, ANY_VALUE), "bad tokens", "another key"),
    "the token repeated in the refusal": (wrong(SOLUTION, UNKNOWN, ECHOED), "bad tokens",
                                          "never put what the caller sent"),
    "an unknown token is PERMISSION_DENIED": (wrong_in_places(SOLUTION, {
        "        if who is None:  # who is calling is not known\n": "        if not credentials:\n",
        "        if not may_call(who, method):": "        if who is None or not may_call(who, method):"}),
        "bad tokens", "that is UNAUTHENTICATED"),
    "a write refused as UNAUTHENTICATED": (wrong(SOLUTION, DENIED, DENIED.replace("PERMISSION_DENIED",
                                                                                   "UNAUTHENTICATED")),
                                           "permission", "PERMISSION_DENIED"),
    "every write let through": (wrong(SOLUTION, "        if not may_call(who, method):  # known, and not allowed\n"
                                      f"            {DENIED}\n", ""), "permission", "PERMISSION_DENIED"),
    "a refusal that names nobody's method": (wrong(SOLUTION, 'f"{who} may not call {method}"', '"not allowed"'),
                                             "permission", "names the method"),
    "the guest refused everything": (wrong(SOLUTION, "not may_call(who, method)", 'who != "alice"'), "permission",
                                     "a guest reads like anyone known"),
    "the servicer run, then refused": (wrong(SOLUTION, f"            {DENIED}", RUNS_THEN_REFUSES), "never runs",
                                       "must not be called"),
    "the token in the denial": (wrong(SOLUTION, 'f"{who} may not call {method}"',
                                      'f"the holder of {token} may not call {method}"'), "permission",
                                "never put what the caller sent"),
    "Bearer looked for under any key": (wrong(SOLUTION, METADATA, 'next((v for _, v in handler_call_details.'
                                              'invocation_metadata if v.startswith("Bearer ")), "")'), "bad tokens",
                                        "another key"),
    "the token's word after Bearer": (wrong(SOLUTION, WHO, 'parts = credentials.split()\n        who = who_holds('
                                            'parts[1]) if len(parts) > 1 and parts[0] == "Bearer" else None'),
                                      "bad tokens", "that exact token"),
    "a refusal that reads the requests first": (wrong(SOLUTION, UNKNOWN, READS_FIRST), "no token",
                                                "before any request is read"),
    "a method let through once it was allowed": (wrong_in_places(SOLUTION, {
        "        method = handler_call_details.method\n": "        method = handler_call_details.method\n"
        "        if method in SEEN:  # \"checked already\"\n            return handler\n",
        "        return handler\n\n\nINTERCEPTORS": "        SEEN.add(method)\n        return handler\n\n\n"
        "INTERCEPTORS", "class BearerTokens": "SEEN = set()\n\n\nclass BearerTokens"}), "every call",
        "judge every call on its own"),
    "one request read before the refusal": (wrong(SOLUTION, UNKNOWN, READS_ONE), "no token",
                                            "before any request is read"),
    "any scheme of six letters": (wrong(SOLUTION, WHO, 'who = who_holds(credentials[7:]) if len(credentials) > 7 and '
                                        'credentials[6] == " " else None'), "bad tokens", "the scheme must be Bearer"),
    "any separator after Bearer": (wrong(SOLUTION, WHO, 'who = who_holds(credentials[7:]) if credentials.startswith('
                                         '"Bearer") else None'), "bad tokens", "the scheme must be Bearer"),
    "the servicer's stream started before the refusal": (wrong(SOLUTION, UNKNOWN, STREAM_RUNS_FIRST), "no token",
                                                         "the servicer ran"),
    "a message sent before the refusal": (wrong(SOLUTION, UNKNOWN, SENDS_FIRST), "no token", "sends nothing"),
    "the token's last digits in the denial": (wrong(SOLUTION, 'f"{who} may not call {method}"',
                                                    'f"the token ending {token[-4:]} may not call {method}"'),
                                              "permission", "never put what the caller sent"),
    "the token's start in the refusal": (wrong(SOLUTION, UNKNOWN, UNKNOWN.replace(
        '"this service wants a token:', 'f"yours starts {token[:6]!r}; this service wants a token:')),
        "bad tokens", "never put what the caller sent"),
    "a holder remembered by the start of a token": (remembering("token[:5]"), "every call",
                                                    "judge every call on its own"),
    "five characters of the token in the refusal": (wrong(SOLUTION, UNKNOWN, UNKNOWN.replace(
        '"this service wants a token:', 'f"({token[:5]}...?) this service wants a token:')),
        "bad tokens", "never put what the caller sent"),
    "the holder's name taken for a token": (wrong(SOLUTION, WHO, 'who = (who_holds(token) or (token if token in '
                                                  '("alice", "guest") else None)) if scheme == "Bearer" else None'),
                                            "bad tokens", "that exact token"),
    "a holder remembered by the end of a token": (remembering("token[-4:]"), "every call",
                                                  "judge every call on its own"),
    "health looked at when it carries a token": (wrong(SOLUTION, 'if method.startswith("/grpc.health."):',
                                                       'if method.startswith("/grpc.health.") and not dict('
                                                       'handler_call_details.invocation_metadata).get('
                                                       '"authorization"):'), "health", "whatever metadata"),
    "requests collected on the way": (wrong(SOLUTION, "        return handler\n\n\nINTERCEPTORS", COLLECTS),
                                      "passes on", "must not read the request stream"),
}


NO_TOKEN_DENIED = wrong(SOLUTION, "        scheme, _, token", "        if not credentials:\n"
                        "            return refusing(handler, grpc.StatusCode.PERMISSION_DENIED, "
                        "'you need an authorization token')\n        scheme, _, token")


def check(source, tmp_path):
    return check_server_cell(check_tokens, source, tmp_path)


def test_the_skeleton_lets_every_call_through(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert failed(result) == {RULES[rule] for rule in ("no token", "bad tokens", "permission", "never runs",
                                                       "every call")}, repr(result)
    assert all("not done yet" in case.got for case in result.cases if not case.passed), repr(result)


def test_the_answer_passes_every_rule(tmp_path):
    result = check(answer(SOLUTION), tmp_path)
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == list(RULES.values())


def test_every_rule_has_a_wrong_answer():
    assert {rule for _, rule, _ in WRONG.values()} == set(RULES)


def test_a_message_that_says_nothing_breaks_both_refusal_rules(tmp_path):
    """One refusal for every unknown caller: without a token, and with one that will not do."""
    result = check(wrong(SOLUTION, "\"this service wants a token: authorization metadata of the form "
                                   "'Bearer <token>'\"", '"go away"'), tmp_path)
    assert failed(result) == {RULES["no token"], RULES["bad tokens"]}, repr(result)
    assert "say what is missing" in result[RULES["no token"]].hint, repr(result)
    assert "say what is wanted" in result[RULES["bad tokens"]].hint, repr(result)


def test_a_pause_before_each_refusal_is_named(tmp_path):
    result = check(wrong(SOLUTION, REFUSE, "        if not credentials:\n            time.sleep(0.4)  # 'slow the "
                                           "guessers down'\n" + REFUSE).replace("import grpc\n",
                                                                                  "import time\n\nimport grpc\n"),
                   tmp_path)
    assert RULES["no token"] in failed(result) and "refuse at once" in result[RULES["no token"]].hint, repr(result)


@pytest.mark.parametrize("mistake", WRONG)
def test_each_wrong_answer_breaks_only_its_rule(mistake, tmp_path):
    source, rule, hint = WRONG[mistake]
    result = check(source, tmp_path)
    assert failed(result) == {RULES[rule]}, repr(result)
    assert hint in result[RULES[rule]].hint, repr(result)


PERMISSION_FIRST = wrong(SOLUTION, "        if who is None:  # who is calling is not known\n",
                         "        if not may_call(who, method):\n            return refusing(handler, grpc.StatusCode."
                         "PERMISSION_DENIED, f\"{who} may not call {method}\")\n"
                         "        if who is None:  # who is calling is not known\n")


@pytest.mark.parametrize("source, words", [(NO_TOKEN_DENIED, "that is UNAUTHENTICATED"),
                                           (PERMISSION_FIRST, "find out who calls before")],
                         ids=["no token answered PERMISSION_DENIED", "permission asked before identity"])
def test_a_wrong_code_for_an_unknown_caller_is_named_in_both_cases_it_shows(source, words, tmp_path):
    """A token under another key is no authorization, and may_call(None, AddUser) is False: both mistakes show in
    the no-token case and in the bad-tokens case, each time with the hint that names them."""
    result = check(source, tmp_path)
    assert failed(result) == {RULES["no token"], RULES["bad tokens"]}, repr(result)
    assert all(words in result[RULES[rule]].hint for rule in ("no token", "bad tokens")), repr(result)
