"""Checker for Exercise 11.2 (notebook 11): a service config that retries the users service's reads.

The learner's answer is a service config (a dict, or its JSON text) for the clients of
users.v1.UserManager. The checker puts it on channels to a server that fails on request
(workshop/checkers/flaky_users.py) and judges it by what that server sees: how many attempts each
call made. Its rules are below, one case each; tests/test_checkers_retries.py breaks each on its own.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import grpc

from workshop.checkers import flaky_users, support
from workshop.checkers.support import Fail
from workshop.protos import users_pb2, users_pb2_grpc

SERVICE = "users.v1.UserManager"
ATTEMPTS = 3  # in all: the first and two retries
# grpc's throttling, with 10 tokens and 0.1 back per success: each failed attempt takes a token (never below 0),
# and a retry is allowed only while more than half are left. 20 failing calls in a row, 3 attempts allowed
# each: 3 + 2 + 18 × 1 attempts.
STORM_CALLS, TOKENS = 20, 10
# Successes after the storm (0 tokens): a failure then allows a retry only if more than 6 tokens were left. 58
# bring 5.8 (with 9 tokens, or 0.11 back a success, there would be a retry); the probe takes one, 13 more bring 6.1.
STILL_OFF, BACK = 58, 13
BACKOFF = {"initialBackoff": 0.1, "maxBackoff": 1.0, "backoffMultiplier": 2.0}  # as the notebook's RETRIES
FAILING = [code.name for code in grpc.StatusCode if code.name != "OK"]
NOT_RETRIED = [name for name in FAILING if name != "UNAVAILABLE"]
RULES = {  # Exercise 11.2: each rule is one case; a wrong-answer test breaks each on its own
    "accepted": "grpc accepts the config: a dict (or JSON text) whose every field grpc can read (camelCase, each "
                "once); one policy an entry, a retryPolicy or a hedgingPolicy, not both; no timeout (grpcio applies "
                "a config's timeout early)",
    "reads": "a GetUser that meets UNAVAILABLE twice succeeds: the client retried it, with no code of yours",
    "three": f"a GetUser that keeps meeting UNAVAILABLE is tried {ATTEMPTS} times in all, then ends UNAVAILABLE",
    "only unavailable": "a GetUser that meets any other code (all 15 of them: INTERNAL, ABORTED, NOT_FOUND, …) is "
                        "tried once",
    "writes": "an AddUser that meets any code, UNAVAILABLE or another, is tried once: a write is never repeated "
              "(nor hedged: no hedgingPolicy covers it, which other languages' clients would send twice)",
    "backoff": "GetUser's retries wait as stated: initialBackoff 0.1 s, doubling (backoffMultiplier 2), up to "
               "maxBackoff 1 s (read from the config: grpc draws each wait at random below these)",
    "throttled": f"retryThrottling of 10 tokens, 0.1 back per success: {STORM_CALLS} failing GetUsers in a row make "
                 f"{23} attempts, not {STORM_CALLS * ATTEMPTS}; then retries stay off after {STILL_OFF} "
                 f"successes, and are back after {BACK} more",
}

REFUSED_HINT = "grpc's own words are above: fix the field they name"
POLICY_FIELDS_HINT = (" (a retryPolicy needs all five of maxAttempts, at least 2, initialBackoff and maxBackoff, "
                      "durations such as \"0.1s\", backoffMultiplier, retryableStatusCodes)")
NOT_JSON_HINT = "a service config is JSON: a dict of dicts, lists, strings and numbers, or that dict as JSON text"
COUNT_HINT = f"maxAttempts counts the first attempt too: {ATTEMPTS} in all is \"maxAttempts\": {ATTEMPTS}"
CODES_HINT = ("retryableStatusCodes: [\"UNAVAILABLE\"] only. UNAVAILABLE says the call never reached the service, "
              "so a retry is safe; after any other code the service may have acted, or will answer the same again")
WRITES_HINT = ("a methodConfig entry whose name is {\"service\": \"" + SERVICE + "\"} alone covers every method, "
               "AddUser too: name the reads one by one ({\"service\": ..., \"method\": \"GetUser\"}), or give AddUser "
               "an entry of its own with no retryPolicy (the entry that names the method wins)")
WRITES_ANY_HINT = ("give AddUser no retryPolicy at all: whatever the code (ABORTED too), its first attempt may have "
                   "written, and a retry would write again")
THROTTLE_HINT = ("add \"retryThrottling\": {\"maxTokens\": 10, \"tokenRatio\": 0.1} beside methodConfig: each failure "
                 "takes a token, each success gives back 0.1, and at half the tokens or fewer the client stops "
                 "retrying")
THROTTLE_VALUES_HINT = ("retryThrottling is there, with other numbers: \"maxTokens\": 10, \"tokenRatio\": 0.1 (each "
                        "failure takes a token, each success gives back 0.1, and at half the tokens or fewer the "
                        "client stops retrying)")
RECOVERY_HINT = ("exactly 10 tokens and 0.1 back a success (\"maxTokens\": 10, \"tokenRatio\": 0.1): then about 60 "
                 "successes after a storm bring retries back, neither sooner nor later")
BACKOFF_HINT = ("the call ran past its 5 s deadline: keep the backoff as above (initialBackoff \"0.1s\", maxBackoff "
                "\"1s\", backoffMultiplier 2), and give no timeout in the config (grpcio applies it early)")
EARLY_TIMEOUT_HINT = ("leave \"timeout\" out of the config: grpcio applies it about 1.7 s early (grpc/grpc#34547), and "
                      "the checker's calls pass timeout= themselves")
BACKOFF_VALUES_HINT = ("keep the backoff the notebook's RETRIES has: \"initialBackoff\": \"0.1s\", \"maxBackoff\": "
                       "\"1s\", \"backoffMultiplier\": 2: short enough for a person waiting, long enough to let a "
                       "restarting server come back")
REFUSED_ABOVE = "grpc refused the config (the first ✗ says why): fix that first"
PER_ATTEMPT_HINT = ("leave perAttemptRecvTimeout out: grpcio does not read it, so the config would not mean the same "
                    "to every client; how long a call may take is each call's timeout=")
CAMEL_HINT = ("a service config's fields are camelCase, as gRPC's documentation spells them: methodConfig, name, "
              "retryPolicy, maxAttempts, initialBackoff, maxBackoff, backoffMultiplier, retryableStatusCodes, "
              "retryThrottling, maxTokens, tokenRatio. grpc skips a field it does not know, without a word")
DUPLICATE_HINT = "grpc reads the config as strict JSON: each key once in each object (Python's json keeps the last)"
BOTH_POLICIES_HINT = ("an entry retries or hedges, not both (gRPC's design, A6): keep the retryPolicy, and leave "
                      "hedging out (grpcio does not hedge, and a hedged call is sent more than once on purpose)")
WRITES_HEDGE_HINT = ("no hedgingPolicy for AddUser either: this config reaches every client of the service, and a "
                     "Java or Go client that hedges sends the write twice by design")
KNOWN_FIELDS = {  # what grpc reads of a service config, where: anything else it skips in silence
    "top": {"loadBalancingConfig", "loadBalancingPolicy", "methodConfig", "retryThrottling", "healthCheckConfig"},
    "methodConfig": {"name", "waitForReady", "timeout", "maxRequestMessageBytes", "maxResponseMessageBytes",
                     "retryPolicy", "hedgingPolicy"},
    "name": {"service", "method"},
    "retryPolicy": {"maxAttempts", "initialBackoff", "maxBackoff", "backoffMultiplier", "retryableStatusCodes",
                    "perAttemptRecvTimeout"},
    "hedgingPolicy": {"maxAttempts", "hedgingDelay", "nonFatalStatusCodes"},
    "retryThrottling": {"maxTokens", "tokenRatio"},
}


def storm_attempts(allowed: int, calls: int = STORM_CALLS, tokens: int = TOKENS) -> int:
    """The attempts `calls` failing calls in a row make under grpc's throttling with `tokens` tokens, when
    the retry policy allows `allowed` attempts a call (grpc counts in thousandths of a token, as here)."""
    left, made = tokens * 1000, 0
    for _ in range(calls):
        attempts = 0
        while True:
            attempts += 1
            left = max(0, left - 1000)
            if attempts >= allowed or left <= tokens * 1000 // 2:
                break
        made += attempts
    return made


def _config_text(config) -> str:
    if isinstance(config, str):
        json.loads(config)  # text that is not JSON is the learner's mistake, named by the caller
        return config
    return json.dumps(config)


def _why_refused(text: str) -> str:
    """grpc's reasons for refusing a service config: it logs them, and tells the call only that it refused."""
    probe = ("import grpc, sys\n"
             "channel = grpc.insecure_channel('127.0.0.1:9', options=[('grpc.service_config', sys.argv[1])])\n"
             "try:\n    channel.unary_unary('/probe/Probe')(b'', timeout=2)\nexcept grpc.RpcError:\n    pass\n")
    printed = subprocess.run([sys.executable, "-c", probe, text], capture_output=True, text=True, timeout=30,
                             env={"GRPC_VERBOSITY": "ERROR", "PATH": ""}).stderr
    found = re.search(r"errors validating service config: \[(.*)\]", printed)
    return found.group(1) if found else "grpc gave no reason"


def _unknown_fields(config) -> list[str]:
    """The fields of `config` grpc does not read, as paths ("methodConfig[0].retry_policy")."""
    try:
        top = json.loads(_config_text(config))
    except (TypeError, ValueError):
        return []
    if not isinstance(top, dict):
        return []
    unknown = [key for key in top if key not in KNOWN_FIELDS["top"]]
    for kind in ("retryThrottling",):
        if isinstance(top.get(kind), dict):
            unknown += [f"{kind}.{key}" for key in top[kind] if key not in KNOWN_FIELDS[kind]]
    for number, entry in enumerate(top.get("methodConfig") or []):
        if not isinstance(entry, dict):
            continue
        where = f"methodConfig[{number}]"
        unknown += [f"{where}.{key}" for key in entry if key not in KNOWN_FIELDS["methodConfig"]]
        for kind in ("retryPolicy", "hedgingPolicy"):
            if isinstance(entry.get(kind), dict):
                unknown += [f"{where}.{kind}.{key}" for key in entry[kind] if key not in KNOWN_FIELDS[kind]]
        for name in entry.get("name") or []:
            if isinstance(name, dict):
                unknown += [f"{where}.name.{key}" for key in name if key not in KNOWN_FIELDS["name"]]
    return unknown


def _entries(config) -> list[dict]:
    try:
        entries = json.loads(_config_text(config)).get("methodConfig", [])
        return [entry for entry in entries if isinstance(entry, dict)]
    except (ValueError, TypeError, AttributeError):
        return []


def _retried_names(config) -> list[dict]:
    return [name for entry in _entries(config) if "retryPolicy" in entry for name in entry.get("name", [])
            if isinstance(name, dict)]


def _seconds(duration) -> float | None:
    """A service config's duration ("0.1s") in seconds; None if it is not one."""
    if isinstance(duration, str) and duration.endswith("s"):
        try:
            return float(duration[:-1])
        except ValueError:
            return None
    return None


def _entry_of(config, method: str) -> dict | None:
    """The methodConfig entry grpc applies to `method` of the users service: the entry that names the method wins
    over the one that names only the service (an empty or missing method), which wins over the default for every
    service (an empty or missing service)."""
    named = {(name.get("service") or None, name.get("method") or None): entry for entry in _entries(config)
             for name in entry.get("name", []) if isinstance(name, dict)}
    return named.get((SERVICE, method)) or named.get((SERVICE, None)) or named.get((None, None))


def _number(value) -> float | None:
    """A number of the config as grpc reads it: 2, 2.0 and "2" alike; None if it is none."""
    try:
        return float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _policy_of(config, method: str) -> dict | None:
    """The retryPolicy grpc applies to `method` of the users service."""
    entry = _entry_of(config, method)
    return entry.get("retryPolicy") if entry else None


def _refused_in(details: str) -> bool:
    """Whether a call's error says grpc refused the channel's service config."""
    return "service config" in details or "JSON parsing failed" in details


def _reads_hint(config) -> str:
    """Why no retry happened, as far as the config's text shows it."""
    if _unknown_fields(config):
        return "grpc skipped fields it does not know (the first ✗ names them): fix those first"
    names = _retried_names(config)
    if not names:
        return ("give a methodConfig entry a \"retryPolicy\" (maxAttempts, initialBackoff, maxBackoff, "
                "backoffMultiplier, retryableStatusCodes) and a \"name\" list that holds the reads")
    if not any(name.get("service") == SERVICE for name in names):
        return f"name the service as the .proto's package and service make it: \"{SERVICE}\""
    if not any(name.get("service") == SERVICE and name.get("method") in (None, "GetUser") for name in names):
        return "name the method as the .proto spells it: \"GetUser\""
    return "list \"UNAVAILABLE\" in retryableStatusCodes, and allow at least 3 attempts (maxAttempts)"


class _Client:
    """Calls to a fresh FlakyUsers server, on a channel that carries the learner's config."""

    def __init__(self, config_text: str, address: str, servicer: flaky_users.FlakyUsers):
        self.channel = grpc.insecure_channel(address, options=[("grpc.service_config", config_text)])
        self.stub = users_pb2_grpc.UserManagerStub(self.channel)
        self.servicer = servicer
        self.calls = 0

    def attempts(self, method: str, fail: str = "UNAVAILABLE", times: int = flaky_users.ALWAYS) -> tuple[str, int]:
        """One call of `method` whose first `times` attempts fail with `fail`: (the code it ended with, attempts)."""
        self.calls += 1
        name = f"{method}-{self.calls}"
        metadata = (("x-call", name), ("x-fail", fail), ("x-fail-times", str(times)))
        request = users_pb2.UserRequest(id=1) if method == "GetUser" else users_pb2.User(id=1, nickname="ana")
        try:
            getattr(self.stub, method)(request, metadata=metadata, timeout=support.TIMEOUT)
            code = "OK"
        except grpc.RpcError as error:
            if _refused_in(error.details() or ""):
                raise Fail(REFUSED_ABOVE) from None
            code = error.code().name
        return code, self.servicer.attempts[name]


def _with_client(config, case):
    def run():
        try:
            text = _config_text(config)
        except (TypeError, ValueError):
            raise Fail(REFUSED_ABOVE) from None
        with flaky_users.serving() as (address, servicer):
            client = _Client(text, address, servicer)
            try:
                case(client)
            finally:
                client.channel.close()
    return run


def check_retry_policy(config) -> support.CheckResult:
    """Exercise 11.2: `config` is the learner's USERS_SERVICE_CONFIG."""
    def accepted():
        try:
            text = _config_text(config)
        except (TypeError, ValueError) as error:
            raise Fail(f"the config is not JSON: {error}", NOT_JSON_HINT) from None
        with flaky_users.serving() as (address, _):
            with grpc.insecure_channel(address, options=[("grpc.service_config", text)]) as channel:
                try:
                    users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1),
                                                                    timeout=support.TIMEOUT)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                        raise Fail("a GetUser that should succeed at once ended DEADLINE_EXCEEDED: the config's "
                                   "timeout", EARLY_TIMEOUT_HINT) from None
                    details = error.details() or ""
                    if "JSON parsing failed" in details:
                        raise Fail(f"grpc refused the config: {details.split('JSON parsing failed: ')[-1][:120]}",
                                   DUPLICATE_HINT if "duplicate key" in details else NOT_JSON_HINT) from None
                    if "service config" not in details:
                        raise
                    why = _why_refused(text)
                    own = _entry_of(config, "AddUser")  # an entry of AddUser's own with a retryPolicy: remove it
                    raise Fail(f"grpc refused the config: {why}", WRITES_ANY_HINT if "retryPolicy" in why and own
                               and "retryPolicy" in own and own != _entry_of(config, "GetUser") else
                               REFUSED_HINT + (POLICY_FIELDS_HINT if "retryPolicy" in why else "")) from None
        unknown = _unknown_fields(config)
        if unknown:
            raise Fail(f"grpc does not read {', '.join(unknown[:3])}: it skips them, without a word", CAMEL_HINT)
        for number, entry in enumerate(_entries(config)):
            if "retryPolicy" in entry and "hedgingPolicy" in entry:
                raise Fail(f"methodConfig[{number}] has a retryPolicy and a hedgingPolicy", BOTH_POLICIES_HINT)
            if "timeout" in entry:
                raise Fail(f"methodConfig[{number}] sets a timeout of {str(entry['timeout'])[:20]}",
                           EARLY_TIMEOUT_HINT)
            if isinstance(entry.get("retryPolicy"), dict) and "perAttemptRecvTimeout" in entry["retryPolicy"]:
                raise Fail(f"methodConfig[{number}]'s retryPolicy sets perAttemptRecvTimeout, a timeout for each "
                           "attempt: grpcio skips it, other clients apply it", PER_ATTEMPT_HINT)

    def reads(client):
        code, attempts = client.attempts("GetUser", times=2)
        if code == "DEADLINE_EXCEEDED":
            raise Fail(f"a GetUser that met UNAVAILABLE twice ran out of time after {attempts} attempt(s)",
                       BACKOFF_HINT)
        if code != "OK":
            raise Fail(f"a GetUser that met UNAVAILABLE twice ended {code} after {attempts} attempt(s)",
                       _reads_hint(config) if attempts == 1 else COUNT_HINT)

    def three(client):
        code, attempts = client.attempts("GetUser")
        if attempts != ATTEMPTS:
            raise Fail(f"a GetUser that kept meeting UNAVAILABLE was tried {attempts} time(s), not {ATTEMPTS}",
                       COUNT_HINT if attempts > 1 else _reads_hint(config))

    def only_unavailable(client):
        for fail in NOT_RETRIED:
            code, attempts = client.attempts("GetUser", fail=fail, times=1)
            if attempts != 1:
                raise Fail(f"a GetUser that met {fail} was tried {attempts} times", CODES_HINT)

    def writes(client):
        for fail in FAILING:
            code, attempts = client.attempts("AddUser", fail=fail, times=1)
            if attempts != 1:
                raise Fail(f"an AddUser that met {fail} once was tried {attempts} times (and ended {code})",
                           WRITES_HINT if fail == "UNAVAILABLE" else WRITES_ANY_HINT)
        entry = _entry_of(config, "AddUser")
        if entry and "hedgingPolicy" in entry:
            raise Fail("a hedgingPolicy covers AddUser: grpcio does not hedge, but a client that does sends the "
                       "write more than once", WRITES_HEDGE_HINT)

    def backoff():
        try:
            _config_text(config)
        except (TypeError, ValueError):
            raise Fail(REFUSED_ABOVE) from None
        policy = _policy_of(config, "GetUser")
        if not isinstance(policy, dict):
            return  # no retries at all: "reads" says so
        got = {"initialBackoff": _seconds(policy.get("initialBackoff")),
               "maxBackoff": _seconds(policy.get("maxBackoff")),
               "backoffMultiplier": _number(policy.get("backoffMultiplier"))}
        wrong = {field: value for field, value in got.items() if value != BACKOFF[field]}
        if wrong:
            shown = ", ".join(f"{field} {policy.get(field)!r}" for field in wrong)
            raise Fail(f"GetUser's retries wait with {shown}", BACKOFF_VALUES_HINT)

    def throttled(client):
        made = [client.attempts("GetUser")[1] for _ in range(STORM_CALLS)]
        if made[0] == 1:
            raise Fail("a failing GetUser was not retried at all, so there is nothing to throttle yet",
                       "make GetUser retried first (the rules above); this rule then judges the throttling")
        if sum(made) != storm_attempts(made[0]):
            throttling = json.loads(_config_text(config)).get("retryThrottling")  # it parsed: retries happened
            raise Fail(f"{STORM_CALLS} failing GetUsers in a row made {sum(made)} attempts; with 10 tokens, "
                       f"{storm_attempts(made[0])}", THROTTLE_VALUES_HINT if isinstance(throttling, dict)
                       else THROTTLE_HINT)
        for _ in range(STILL_OFF):
            client.attempts("GetUser", times=0)
        if (attempts := client.attempts("GetUser")[1]) != 1:
            raise Fail(f"after the storm, {STILL_OFF} successes brought retries back already ({attempts} attempts)",
                       RECOVERY_HINT)
        for _ in range(BACK):
            client.attempts("GetUser", times=0)
        if (attempts := client.attempts("GetUser")[1]) == 1:
            raise Fail(f"after the storm, {STILL_OFF + BACK} successes did not bring retries back", RECOVERY_HINT)

    cases = [("accepted", accepted), *[(label, _with_client(config, case)) for label, case in [
        ("reads", reads), ("three", three), ("only unavailable", only_unavailable), ("writes", writes)]],
        ("backoff", backoff), ("throttled", _with_client(config, throttled))]
    return support.run_checks("Exercise 11.2 · a retry policy for the users service",
                              [(RULES[label], case) for label, case in cases])
