"""check_retry_policy (11.2): ✗ on the skeleton, ✓ on the answer, and each wrong answer below breaks one
rule of workshop.checkers.retries.RULES, with a hint that names its cause."""
import copy
import json

import pytest
from exercises import answer, failed, skeleton

from workshop.checkers.retries import RULES, SERVICE, check_retry_policy

SOLUTION = "11_2_retry_policy.py"


def config_of(source: str):
    """The USERS_SERVICE_CONFIG that a cell's code defines."""
    names: dict = {}
    exec(source, names)
    return names["USERS_SERVICE_CONFIG"]


def changed(change) -> dict:
    """The answer's config, with `change(config, retry_policy)` made to a copy of it: one mistake."""
    config = copy.deepcopy(config_of(answer(SOLUTION)))
    change(config, config["methodConfig"][0]["retryPolicy"])
    return config


def set_in(mapping: dict, key: str, value):
    mapping[key] = value


def each_method_but(config, _, method: str):
    config["methodConfig"][0]["name"] = [{"service": SERVICE}]
    if method:
        config["methodConfig"].append({"name": [{"service": SERVICE, "method": method}]})


ALL = set(RULES)
WRONG = {  # name: (the config with one mistake, the rules it breaks, words of the hint shown first)
    "a retryPolicy without maxBackoff": (changed(lambda _, policy: policy.pop("maxBackoff")), ALL,
                                         "retryPolicy.maxBackoff error:field not present"),
    "a backoff without its unit": (changed(lambda _, policy: set_in(policy, "initialBackoff", "0.1")), ALL,
                                   "initialBackoff"),
    "not JSON (a set of codes)": (changed(lambda _, policy: set_in(policy, "retryableStatusCodes", {"UNAVAILABLE"})),
                                  ALL, "a service config is JSON"),
    "four attempts": (changed(lambda _, policy: set_in(policy, "maxAttempts", 4)), {"three"},
                      "counts the first attempt too"),
    "two attempts": (changed(lambda _, policy: set_in(policy, "maxAttempts", 2)), {"reads", "three"},
                     "counts the first attempt too"),
    "INTERNAL retried too": (changed(lambda _, policy: policy["retryableStatusCodes"].append("INTERNAL")),
                             {"only unavailable"}, "UNAVAILABLE\"] only"),
    "DEADLINE_EXCEEDED retried too": (
        changed(lambda _, policy: policy["retryableStatusCodes"].insert(0, "DEADLINE_EXCEEDED")),
        {"only unavailable"}, "the service may have acted"),
    "the whole service retried": (changed(lambda config, policy: each_method_but(config, policy, "")), {"writes"},
                                  "covers every method, AddUser too"),
    "no retryThrottling": (changed(lambda config, _: config.pop("retryThrottling")), {"throttled"},
                           "retryThrottling"),
    "throttling that waits for 50 failures": (
        changed(lambda config, _: set_in(config["retryThrottling"], "maxTokens", 100)), {"throttled"},
        "retryThrottling is there, with other numbers"),
    "throttling with 20 tokens": (changed(lambda config, _: set_in(config["retryThrottling"], "maxTokens", 20)),
                                  {"throttled"}, "maxTokens\": 10"),
    "throttling that gives back 0.5 a success": (
        changed(lambda config, _: set_in(config["retryThrottling"], "tokenRatio", 0.5)), {"throttled"},
        "exactly 10 tokens and 0.1 back a success"),
    "throttling that gives back 0.05 a success": (
        changed(lambda config, _: set_in(config["retryThrottling"], "tokenRatio", 0.05)), {"throttled"},
        "exactly 10 tokens and 0.1 back a success"),
    "throttling with 9 tokens": (changed(lambda config, _: set_in(config["retryThrottling"], "maxTokens", 9)),
                                 {"throttled"}, "exactly 10 tokens"),
    "throttling that gives back 0.11 a success": (
        changed(lambda config, _: set_in(config["retryThrottling"], "tokenRatio", 0.11)), {"throttled"},
        "exactly 10 tokens"),
    "a first backoff of 1 s": (changed(lambda _, policy: set_in(policy, "initialBackoff", "1s")), {"backoff"},
                               "keep the backoff the notebook's RETRIES has"),
    "no doubling": (changed(lambda _, policy: set_in(policy, "backoffMultiplier", 1)), {"backoff"},
                    "backoffMultiplier\": 2"),
    "a longest wait of 10 s": (changed(lambda _, policy: set_in(policy, "maxBackoff", "10s")), {"backoff"},
                               "\"maxBackoff\": \"1s\""),
    "a timeout in the config": (changed(lambda config, _: set_in(config["methodConfig"][0], "timeout", "0.5s")),
                                {"accepted", "reads", "three", "only unavailable", "throttled"},
                                "grpcio applies it about 1.7 s early"),
    "CANCELLED retried too": (changed(lambda _, policy: policy["retryableStatusCodes"].append("CANCELLED")),
                              {"only unavailable"}, "UNAVAILABLE\"] only"),
    "AddUser retried on ABORTED": (
        changed(lambda config, policy: config["methodConfig"].append({
            "name": [{"service": SERVICE, "method": "AddUser"}],
            "retryPolicy": {**policy, "retryableStatusCodes": ["ABORTED"]}})), {"writes"}, "ABORTED too"),
    "AddUser given one attempt": (  # grpc refuses maxAttempts 1: the hint says to leave AddUser's policy out
        changed(lambda config, policy: config["methodConfig"].append({
            "name": [{"service": SERVICE, "method": "AddUser"}], "retryPolicy": {**policy, "maxAttempts": 1}})),
        ALL - {"backoff"}, "give AddUser no retryPolicy at all"),
    "the service without its package": (
        changed(lambda config, _: [name.update(service="UserManager") for name in config["methodConfig"][0]["name"]]),
        {"reads", "three", "throttled"}, "package"),
    "the method in lowercase": (
        changed(lambda config, _: [name.update(method=name["method"].lower())
                                   for name in config["methodConfig"][0]["name"]]),
        {"reads", "three", "throttled"}, "as the .proto spells it"),
    "retryableStatusCodes missing UNAVAILABLE": (
        changed(lambda _, policy: set_in(policy, "retryableStatusCodes", ["RESOURCE_EXHAUSTED"])),
        {"reads", "three", "only unavailable", "throttled"}, "list \"UNAVAILABLE\""),
    "AddUser hedged": (changed(lambda config, _: config["methodConfig"].append({
        "name": [{"service": SERVICE, "method": "AddUser"}],
        "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.5s", "nonFatalStatusCodes": ["UNAVAILABLE"]}})),
        {"writes"}, "sends the write twice"),
    "a hedgingPolicy beside the retryPolicy": (changed(lambda config, _: set_in(config["methodConfig"][0],
                                               "hedgingPolicy", {"maxAttempts": 2, "hedgingDelay": "0.5s"})),
                                               {"accepted"}, "retries or hedges, not both"),
    # 30 s, far past every call's own deadline: only the config's rule sees it (2 s, applied 1.7 s early, failed
    # the retry cases too, on a busy machine)
    "a generous timeout of 30 s in the config": (
        changed(lambda config, _: set_in(config["methodConfig"][0], "timeout", "30s")), {"accepted"},
        "grpcio applies it about 1.7 s early"),
    "snake_case fields": (changed(lambda config, _: config.update(method_config=config.pop("methodConfig"))),
                          {"accepted", "reads", "three", "throttled"}, "camelCase"),
    "every method hedged, by the default entry": (changed(lambda config, _: config["methodConfig"].append({
        "name": [{"service": ""}], "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.1s"}})), {"writes"},
        "sends the write twice"),
    "the service hedged, by an empty method": (changed(lambda config, _: config["methodConfig"].append({
        "name": [{"service": SERVICE, "method": ""}], "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.1s"}})),
        {"writes"}, "sends the write twice"),
    "a timeout for each attempt": (changed(lambda _, policy: set_in(policy, "perAttemptRecvTimeout", "0.5s")),
                                   {"accepted"}, "perAttemptRecvTimeout out"),
    "a key twice": (json.dumps(config_of(answer(SOLUTION))).replace('"maxAttempts": 3', '"maxAttempts": 3, '
                                                                   '"maxAttempts": 4'), ALL - {"backoff"},
                    "each key once"),
}


def test_skeleton_fails_the_retry_rules():
    result = check_retry_policy(config_of(skeleton(SOLUTION)))
    assert failed(result) == {RULES["reads"], RULES["three"], RULES["throttled"]}, repr(result)
    assert "give a methodConfig entry a \"retryPolicy\"" in repr(result)


@pytest.mark.parametrize("config", [config_of(answer(SOLUTION)), json.dumps(config_of(answer(SOLUTION))),
                                    changed(lambda config, policy: each_method_but(config, policy, "AddUser")),
                                    changed(lambda _, policy: set_in(policy, "backoffMultiplier", "2"))],
                         ids=["the answer", "the answer as JSON text", "the whole service, but AddUser",
                              "the multiplier as a string, which grpc reads as well"])
def test_answers_pass(config):
    result = check_retry_policy(config)
    assert result.all_passed, repr(result)


@pytest.mark.parametrize("name", WRONG)
def test_each_wrong_answer_breaks_its_rule(name):
    config, broken, hint = WRONG[name]
    result = check_retry_policy(config)
    assert failed(result) == {RULES[label] for label in broken}, repr(result)
    assert hint in repr(result), repr(result)
