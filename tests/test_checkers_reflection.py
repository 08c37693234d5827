"""check_method_table (12.1): ✗ on the skeleton, ✓ on the answer, and each wrong answer below breaks one
rule of workshop.checkers.reflection.RULES, with a hint that names its cause."""
import pytest
from exercises import answer, failed, skeleton, wrong

from workshop.checkers.reflection import RULES, check_method_table

SOLUTION = "12_1_method_table.py"
COMPREHENSION = "for method in explorer.service(service).methods]"
FIRST_IN_FILE = ("for method in next(iter(explorer.pool.FindFileContainingSymbol(service)"
                 ".services_by_name.values())).methods]")


def function_of(source: str):
    names: dict = {}
    exec(source, names)
    return names["method_table"]


SERVED_CHECK = ('    if service not in explorer.services():  # its file may declare it, and still the server does not '
                'serve it\n        raise KeyError(f"the server does not serve {service}")\n')
CATCHING = wrong(SOLUTION, SERVED_CHECK, "    if service not in explorer.services():\n        return []\n")
POOL_ALONE = wrong(SOLUTION, SERVED_CHECK, "")  # the pool's KeyError: but the pool knows every service of a file
WRONG = {  # the mistake: (the function, the rule it breaks, words of its hint)
    "lists, not tuples": (wrong(SOLUTION, "    return [(method.name", "    return [[method.name").replace(
        "MODES[method.client_streaming, method.server_streaming])", "MODES[method.client_streaming, "
        "method.server_streaming]]"), "rows", "one tuple per method"),
    "sorted by name": (wrong(SOLUTION, COMPREHENSION, "for method in sorted(explorer.service(service).methods, "
                             "key=lambda m: m.name)]"), "every method", "not sorted"),
    "short type names": (wrong(SOLUTION, "method.input_type.full_name, method.output_type.full_name",
                               "method.input_type.name, method.output_type.name"), "full names", ".full_name"),
    "streaming flags swapped": (wrong(SOLUTION, "MODES[method.client_streaming, method.server_streaming]",
                                      "MODES[method.server_streaming, method.client_streaming]"), "modes",
                                "client_streaming and method.server_streaming"),
    "bidi for bidirectional": (wrong(SOLUTION, '(True, True): "bidirectional"', '(True, True): "bidi"'), "modes",
                               '"bidirectional"'),
    "the file's first service": (wrong(SOLUTION, COMPREHENSION, FIRST_IN_FILE), "one service",
                                 "the one ServiceDescriptor asked for"),
    "an unknown service as an empty table": (CATCHING, "unknown", "raise KeyError(service)"),
    "the pool's KeyError alone": (POOL_ALONE, "unknown", "a file may declare services the server does not serve"),
    "methods of the file's services whose name ends the asked one": (
        wrong(SOLUTION, COMPREHENSION, "for each in explorer.service(service).file.services_by_name.values() "
                                       "if service.endswith(each.name) for method in each.methods]"),
        "one service", "the one ServiceDescriptor asked for"),
    "the method's full name": (wrong(SOLUTION, "(method.name, method.input_type",
                                     "(method.full_name, method.input_type"), "every method", "short name"),
    "package plus short name": (wrong(SOLUTION, "method.input_type.full_name, method.output_type.full_name",
                                      "method.input_type.file.package + '.' + method.input_type.name, "
                                      "method.output_type.full_name"), "full names", ".full_name"),
    "methods of the file's services that start with the name": (
        wrong(SOLUTION, COMPREHENSION, "for each in explorer.service(service).file.services_by_name.values() "
                                       "for method in each.methods if method.full_name.startswith(service)]"),
        "one service", "the one ServiceDescriptor asked for"),
    "the served check by substring": (wrong(SOLUTION, SERVED_CHECK, "    if not any(service in s for s in "
                                        "explorer.services()):\n        raise KeyError(service)\n"),
                                      "unknown", "compare the exact name"),
    "the served check by prefix": (wrong(SOLUTION, SERVED_CHECK, "    if not any(s.startswith(service) for s in "
                                   "explorer.services()):\n        raise KeyError(service)\n"), "unknown",
                                   "compare the exact name"),
    "the served check by suffix": (wrong(SOLUTION, SERVED_CHECK, "    if not any(s.endswith(service) for s in "
                                   "explorer.services()):\n        raise KeyError(service)\n"), "unknown",
                                   "compare the exact name"),
    "the served check by short name": (wrong(SOLUTION, SERVED_CHECK, "    if service.rsplit('.', 1)[-1] not in "
                                       "[s.rsplit('.', 1)[-1] for s in explorer.services()]:\n        raise "
                                       "KeyError(service)\n"), "unknown", "compare the exact name"),
    "the server's own services refused": (wrong(SOLUTION, SERVED_CHECK, SERVED_CHECK + "    if service.startswith("
                                          "'grpc.'):\n        raise KeyError(service)\n"), "every method",
                                          "the server's own services are served too"),
    "a cache keyed on the name alone": (wrong(SOLUTION, "def method_table(explorer, service: str) -> list[tuple[str, "
                                        "str, str, str]]:\n", "_kept = {}\n\n\ndef method_table(explorer, "
                                        "service):\n    if service in _kept:\n        return _kept[service]\n"
                                        "    _kept[service] = _table(explorer, service)\n    return _kept[service]"
                                        "\n\n\ndef _table(explorer, service):\n"), "unknown",
                                        "a table kept from one server"),
    **{f"a cache keyed on the name and {what}": (wrong(
        SOLUTION, "def method_table(explorer, service: str) -> list[tuple[str, str, str, str]]:\n",
        f"_kept = {{}}\n\n\ndef method_table(explorer, service):\n    key = (service, {key})\n"
        "    if key not in _kept:\n        _kept[key] = _table(explorer, service)\n    return _kept[key]"
        "\n\n\ndef _table(explorer, service):\n"), "unknown", "a table kept from one server")
        for what, key in (("its file", "explorer.service(service).file.name if service in explorer.services() "
                                       "else None"),
                          ("the services served", "tuple(explorer.services())"),
                          ("how many are served", "len(explorer.services())"))},
    "one list for every table, cleared and refilled": (wrong(
        SOLUTION, "    return [(method.name,", "    ROWS.clear()\n    ROWS.extend((method.name,").replace(
        "            for method in explorer.service(service).methods]",
        "            for method in explorer.service(service).methods)\n    return ROWS").replace(
        "def method_table(", "ROWS = []\n\n\ndef method_table("), "rows", "make a new list on each call"),
    "twins dropped": (wrong(SOLUTION, COMPREHENSION, "for method in {(m.input_type, m.output_type, m.client_streaming, "
                            "m.server_streaming): m for m in explorer.service(service).methods}.values()]"),
                      "every method", "none left out"),
    "request and response swapped": (wrong(SOLUTION, "method.input_type.full_name, method.output_type.full_name",
                                           "method.output_type.full_name, method.input_type.full_name"),
                                     "full names", "the request is method.input_type"),
    "the request twice": (wrong(SOLUTION, "method.input_type.full_name, method.output_type.full_name",
                                "method.input_type.full_name, method.input_type.full_name"), "full names",
                          "the request is method.input_type"),
    "grpcurl's stream words": (wrong(SOLUTION, "method.input_type.full_name, method.output_type.full_name",
                                     "('stream ' if method.client_streaming else '') + method.input_type.full_name, "
                                     "('stream ' if method.server_streaming else '') + method.output_type.full_name"),
                               "full names", "type names alone"),
    "method names in lowercase": (wrong(SOLUTION, "(method.name, method.input_type", "(method.name.lower(), "
                                        "method.input_type"), "every method", "as the contract spells it"),
    "a table kept by name, the served check fresh": (wrong(SOLUTION, "    return [(method.name",
                                                           "    if service in _KEPT:\n        return _KEPT[service]\n"
                                                           "    _KEPT[service] = [(method.name").replace(
        "for method in explorer.service(service).methods]", "for method in explorer.service(service).methods]\n"
        "    return _KEPT[service]").replace("MODES = {", "_KEPT = {}\nMODES = {"), "unknown",
        "a table kept from one server"),
    "reflection refused": (wrong(SOLUTION, SERVED_CHECK, SERVED_CHECK + "    if 'reflection' in service:\n"
                                 "        raise KeyError(service)\n"), "every method",
                           "the server's own services are served too"),
    "the name cleaned up first": (wrong(SOLUTION, SERVED_CHECK, "    service = service.strip().strip('/').lstrip('.')\n"
                                        + SERVED_CHECK), "unknown", "compare the exact name"),
    "a name's line end stripped": (wrong(SOLUTION, SERVED_CHECK, "    service = service.rstrip('.\\n\\t')\n"
                                         + SERVED_CHECK), "unknown", "compare the exact name"),
    "no methods taken for not served": (wrong(SOLUTION, "    return [(method.name", "    if not explorer.service("
                                              "service).methods:\n        raise KeyError(service)\n"
                                              "    return [(method.name"), "every method", "empty table, []"),
}


def test_a_keyerror_that_names_the_service_in_its_repr_passes():
    """f"unknown service {service!r}" shows 'users.v1.UserManager\\n' with its line end escaped: it names it."""
    result = check_method_table(function_of(wrong(SOLUTION, 'KeyError(f"the server does not serve {service}")',
                                                  'KeyError(f"unknown service {service!r}")')))
    assert result.all_passed, repr(result)


def test_skeleton_is_reported_as_not_done():
    result = check_method_table(function_of(skeleton(SOLUTION)))
    assert result.passed == 0 and all("not done yet" in case.got for case in result.cases), repr(result)


def test_answer_passes_every_rule():
    result = check_method_table(function_of(answer(SOLUTION)))
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == list(RULES.values())


def test_named_tuples_and_a_generator_of_rows_pass():
    source = answer(SOLUTION).replace("    return [(method.name", "    return [Row(method.name").replace(
        "MODES = {", "import collections\nRow = collections.namedtuple('Row', 'method request response mode')\n"
        "MODES = {")
    assert check_method_table(function_of(source)).all_passed
    generator = answer(SOLUTION).replace("    return [(method.name", "    return ((method.name").replace(
        "for method in explorer.service(service).methods]", "for method in explorer.service(service).methods)")
    result = check_method_table(function_of(generator))
    assert failed(result) == {RULES["rows"]}, repr(result)  # a generator is no list; its rows are judged all the same


@pytest.mark.parametrize("mistake", WRONG)
def test_each_wrong_answer_breaks_only_its_rule(mistake):
    source, rule, hint = WRONG[mistake]
    result = check_method_table(function_of(source))
    assert failed(result) == {RULES[rule]}, repr(result)
    assert hint in repr(result), repr(result)


def test_the_services_listed_once_for_good_are_told_to_ask_the_explorer_given():
    """A list of one server's services, kept: every other server's services are then refused, in every case."""
    kept = wrong(SOLUTION, "    if service not in explorer.services():",
                 "    if service not in _SERVED.setdefault('all', explorer.services()):").replace(
        "MODES = {", "_SERVED = {}\nMODES = {")
    result = check_method_table(function_of(kept))
    assert RULES["every method"] in failed(result) and "asked now" in result[RULES["every method"]].hint, repr(result)
