"""Checker for Exercise 12.1 (notebook 12): method_table(explorer, service), a piece of an explorer.

The learner's function lists a service's methods from what reflection alone tells: each method's
name, its request and response types by full name, and its mode. The checker asks it about the
kit's users service and about a server no notebook shows (workshop/checkers/unseen: two services
in one file, nested messages, google.protobuf.Empty, all four modes), on an Explorer of its own.
Its rules are below, one case each; tests/test_checkers_reflection.py breaks each on its own.
"""
from __future__ import annotations

from pathlib import Path

import grpc

from workshop.checkers import support
from workshop.checkers.support import Fail

UNSEEN = str(Path(__file__).parent / "unseen" / "stockroom_server.py")
TWIN = str(Path(__file__).parent / "unseen" / "twin" / "ledger_server.py")  # the stockroom, another Ledger
MODES = ("unary", "server streaming", "client streaming", "bidirectional")
USERS = [("GetUser", "users.v1.UserRequest", "users.v1.UserResponse", "unary"),
         ("AddUser", "users.v1.User", "users.v1.UserResponse", "unary"),
         ("CountAlreadyUsers", "users.v1.UserRequest", "users.v1.UserCountResponse", "client streaming"),
         ("GetUsersByType", "users.v1.UserTypeRequest", "users.v1.UserResponse", "server streaming"),
         ("GetUsersByIds", "users.v1.UserRequest", "users.v1.UserResponse", "bidirectional")]
STOCKROOM = [("Find", "stockroom.v2.Item", "stockroom.v2.Shelf.Slot", "unary"),
             ("Restock", "stockroom.v2.Item", "stockroom.v2.Receipt", "client streaming"),
             ("Shelves", "google.protobuf.Empty", "stockroom.v2.Shelf", "server streaming"),
             ("Sort", "stockroom.v2.Item", "stockroom.v2.Item", "bidirectional"),
             ("Count", "google.protobuf.Empty", "stockroom.v2.Receipt", "unary"),
             ("Audit", "stockroom.v2.Item", "stockroom.v2.Item", "server streaming"),
             ("Clear", "stockroom.v2.Shelf.Slot", "google.protobuf.Empty", "unary"),
             ("Peek", "stockroom.v2.Shelf.Slot", "stockroom.v2.Shelf.Slot.Bin", "unary"),
             ("Locate", "stockroom.v2.Item", "stockroom.v2.Shelf.Slot", "unary")]
HEALTH = [("Check", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse", "unary"),
          ("List", "grpc.health.v1.HealthListRequest", "grpc.health.v1.HealthListResponse", "unary"),
          ("Watch", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse", "server streaming")]
LEDGER = [("Find", "stockroom.v2.Receipt", "stockroom.v2.Item", "unary"),
          ("Close", "google.protobuf.Empty", "google.protobuf.Empty", "unary")]
TWIN_LEDGER = [("Tally", "google.protobuf.Empty", "google.protobuf.Empty", "unary")]
REFLECTION = [("ServerReflectionInfo", "grpc.reflection.{}.ServerReflectionRequest",
               "grpc.reflection.{}.ServerReflectionResponse", "bidirectional")]
OWN_SERVICES = {"grpc.health.v1.Health": HEALTH,
                **{f"grpc.reflection.{version}.ServerReflection": [tuple(part.format(version) for part in row)
                                                                  for row in REFLECTION]
                   for version in ("v1", "v1alpha")}}
CLEANED_UP = [" users.v1.UserManager", ".users.v1.UserManager", "/users.v1.UserManager", "users.v1.UserManager/",
              "users.v1.UserManager.", "users.v1.UserManager\n", "users.v1.UserManager\t",
              "users.v1.UserManager\u00a0"]  # a name read from a file, or pasted: not the name served
STOCKROOM_ADMIN = [("Reset", "google.protobuf.Empty", "stockroom.v2.Receipt", "unary")]
ADMIN = [("Audit", "google.protobuf.Empty", "stockroom.v2.Receipt", "unary")]
NOWHERE = "stockroom.v2.Nowhere"
VOID = "stockroom.v2.Void"
# Not served; all but the first are declared in files the explorer fetches: Retired beside Stockroom, Stock a
# prefix of it, v2.Admin in another package, ending the served stockroom.v2.Admin, with its short name.
NOT_SERVED = [NOWHERE, "stockroom.v2.Retired", "stockroom.v2.Stock", "v2.Admin", "stockroom.v1.Stockroom",
              "stockroom.v2.stockroom"]
RULES = {  # Exercise 12.1: each rule is one case; a wrong-answer test breaks each on its own
    "rows": "a list with one (method, request, response, mode) tuple of four strings per method",
    "every method": "every method of the service, each once (two with the same types and mode too), in the order "
                    "its contract declares them; none for a served service that has none ([]); the server's own "
                    "services count (health, and both reflections)",
    "full names": "request and response types by their full names: package included (users.v1.UserRequest), "
                  "a nested message with its parent (stockroom.v2.Shelf.Slot), another package's type "
                  "(google.protobuf.Empty)",
    "modes": "each method's mode, from whether its request and its response stream: " + ", ".join(MODES),
    "one service": "only the service asked for: services in one file (each with a Find; names that start or end "
                   "with another's) keep their methods apart",
    "unknown": "a service the server does not serve (one reflection does not list, though a file it fetched may "
               "declare it; a served name in another package or case, or with a space, dot or slash added; part of "
               "a served name) → a KeyError that names it, not an empty table; what one server serves (under a name "
               "both serve, too) says nothing of another's",
}

ROWS_HINT = ("return a list, one tuple per method: (method.name, method.input_type.full_name, "
             "method.output_type.full_name, mode), each a str")
EVERY_HINT = ("go through explorer.service(name).methods, the ServiceDescriptor's methods in the contract's "
              "order: one row each, none left out, none added, not sorted")
FULL_NAME_HINT = ("a Descriptor's .name is its short name; .full_name has the package and any parent message: "
                  "method.input_type.full_name")
MODES_HINT = ("the mode comes from method.client_streaming and method.server_streaming: neither → \"unary\", only "
              "the response → \"server streaming\", only the request → \"client streaming\", both → "
              "\"bidirectional\"")
ONE_SERVICE_HINT = ("take the methods of the one ServiceDescriptor asked for, explorer.service(service).methods, "
                    "not every method the pool (or the file) knows")
KEYERROR_HINT = ("the server serves it: compare with explorer.services() of the explorer you are given, asked now "
                 "(not a list kept from an earlier call, nor the notebook's `explorer`)")
VOID_HINT = ("a served service with no methods has an empty table, []: a KeyError says the server does not serve "
             "it, which is not so")
UNKNOWN_HINT = ("compare the exact name with explorer.services() (what the server serves), and raise KeyError(service) "
                "when it is not there: a file may declare services the server does not serve, and a table with no "
                "rows would say the service exists and has no methods")
SHORT_NAME_HINT = "method is the method's short name, method.name (GetUser), as grpcurl describe prints it"
SPELLING_HINT = "method.name as the contract spells it (GetUser): do not change its case or add underscores"
SWAP_HINT = ("the request is method.input_type, the response method.output_type: each from its own side, in that "
             "order")
TYPES_ONLY_HINT = ("the request and response columns hold type names alone: whether they stream goes in the mode "
                   "column, not as a \"stream\" word before the type")
OWN_SERVICES_HINT = ("the server's own services are served too: grpc.health.v1.Health has a table like any other "
                     "(leave them out when you display, not in method_table)")
OTHER_SERVER_HINT = ("ask the explorer you were given, every time: a table kept from one server (a cache, keyed by the "
                     "service's name, its file or the services a server lists) is not another server's answer: two "
                     "servers may serve one name, from files of one name, with other methods")


def _table(method_table, explorer, service: str, strict: bool = False) -> list:
    """The learner's rows for `service`. Strict, they must be a list of 4-string tuples (the rows case);
    otherwise any sequence of 4-part rows is read as one, so the other cases judge the content alone."""
    try:
        table = method_table(explorer, service)
        given = list(table)  # a generator, too, is read once, here
    except NotImplementedError:
        raise Fail("not done yet: method_table still raises NotImplementedError",
                   "write method_table in the exercise cell, run that cell, then run the checker again") from None
    except KeyError as error:
        hint = OWN_SERVICES_HINT if service.startswith("grpc.") else VOID_HINT if service == VOID else KEYERROR_HINT
        raise Fail(f"method_table(explorer, {service!r}) raised KeyError {error}, for a service the server "
                   "serves", hint) from None
    except TypeError as error:
        if "not iterable" not in str(error):
            raise
        raise Fail(f"method_table gave {str(table)[:80]}; expected a list of tuples", ROWS_HINT) from None
    if strict and not isinstance(table, list):
        raise Fail(f"method_table gave a {type(table).__name__}; expected a list of tuples", ROWS_HINT)
    rows = []
    for row in given:
        if isinstance(row, (str, bytes, dict)) or not isinstance(row, (tuple, list)) or len(row) != 4 or \
                not all(isinstance(part, str) for part in row) or (strict and not isinstance(row, tuple)):
            raise Fail(f"a row was {str(row)[:80]}; expected a tuple of four strings", ROWS_HINT)
        rows.append(tuple(row))
    return rows


def _refused(method_table, explorer, service: str, asked: str, unserved: str, answered_hint: str) -> None:
    """`method_table(explorer, service)` must raise a KeyError that names `service`: a Fail that says what it did."""
    try:
        got = method_table(explorer, service)
    except NotImplementedError:
        raise Fail("not done yet: method_table still raises NotImplementedError") from None
    except KeyError as error:
        # args: a name with "\n" as it is; repr: f"unknown {service!r}", which shows it as "...\\n"
        if not any(name in str(said) for said in (error, *error.args) for name in (service, repr(service)[1:-1])):
            raise Fail(f"for {service!r}, the KeyError said {str(error)[:80]}, which does not name it",
                       UNKNOWN_HINT) from None
        return
    except Exception as error:
        raise Fail(f"{asked} raised {type(error).__name__}: {str(error)[:60]}; expected a KeyError",
                   UNKNOWN_HINT) from None
    raise Fail(f"{asked}, {unserved}, gave {str(got)[:60]}", answered_hint)


def _spelled(names: list[str]) -> list[str]:
    return [name.replace("_", "").lower() for name in names]


def check_method_table(method_table) -> support.CheckResult:
    """Exercise 12.1: `method_table` is the learner's function (explorer, service name) → rows."""
    import server_runner
    from workshop.explorer import Explorer

    with server_runner.start("users") as users, server_runner.start(UNSEEN) as unseen, \
            server_runner.start(TWIN) as twin, grpc.insecure_channel(users.address) as users_channel, \
            grpc.insecure_channel(unseen.address) as unseen_channel, \
            grpc.insecure_channel(twin.address) as twin_channel:
        on_users, on_unseen, on_twin = Explorer(users_channel), Explorer(unseen_channel), Explorer(twin_channel)

        def rows():
            _table(method_table, on_users, "users.v1.UserManager", strict=True)
            given = method_table(on_users, "users.v1.UserManager")  # kept by its caller while it asks again
            kept = [tuple(row) for row in given]
            _table(method_table, on_unseen, "stockroom.v2.Stockroom")
            if [tuple(row) for row in given] != kept:
                raise Fail("a table method_table gave changed when it was asked for another service's: "
                           f"{[row[0] for row in given]} where {[row[0] for row in kept]} was",
                           "make a new list on each call: a list kept in the module (cleared and refilled) is "
                           "every caller's, and changes under whoever still holds an earlier table")

        def every_method():
            for explorer, service, expected in ((on_users, "users.v1.UserManager", USERS),
                                                (on_unseen, "stockroom.v2.Stockroom", STOCKROOM),
                                                (on_unseen, VOID, []),
                                                *((on_users, name, rows) for name, rows in OWN_SERVICES.items())):
                got, names = _table(method_table, explorer, service), [row[0] for row in expected]
                own = [row[0] for row in got if row[0] in names]  # another service's methods: "one service" judges
                if own != names:
                    short = [row[0].replace("/", ".").rsplit(".", 1)[-1] for row in got]
                    raise Fail(f"for {service}: methods {[row[0] for row in got]}; expected {names}",
                               SHORT_NAME_HINT if short == names else
                               SPELLING_HINT if _spelled(short) == _spelled(names) else
                               OWN_SERVICES_HINT if service.startswith("grpc.") and not got else EVERY_HINT)

        def full_names():
            for explorer, service, expected in ((on_users, "users.v1.UserManager", USERS),
                                                (on_unseen, "stockroom.v2.Stockroom", STOCKROOM)):
                got = _table(method_table, explorer, service)
                for mine, right in zip(got, expected, strict=False):
                    if mine[0] == right[0] and mine[1:3] != right[1:3]:
                        swapped = (mine[1], mine[2]) == (right[2], right[1]) or right[1] != right[2] and (
                            mine[2] == right[1] or mine[1] == right[2])
                        streams = any("stream" in part.split() for part in mine[1:3])
                        raise Fail(f"{service}.{right[0]}: {mine[1]} → {mine[2]}; expected {right[1]} → "
                                   f"{right[2]}", SWAP_HINT if swapped else TYPES_ONLY_HINT if streams else
                                   FULL_NAME_HINT)

        def modes():
            for explorer, service, expected in ((on_users, "users.v1.UserManager", USERS),
                                                (on_unseen, "stockroom.v2.Stockroom", STOCKROOM)):
                got = _table(method_table, explorer, service)
                for mine, right in zip(got, expected, strict=False):
                    if mine[0] == right[0] and mine[3] != right[3]:
                        raise Fail(f"{service}.{right[0]}: mode {mine[3]!r}; expected {right[3]!r}", MODES_HINT)

        def one_service():
            for service, expected in (("stockroom.v2.Ledger", LEDGER), ("stockroom.v2.StockroomAdmin", STOCKROOM_ADMIN),
                                      ("stockroom.v2.Admin", ADMIN), ("stockroom.v2.Stockroom", STOCKROOM)):
                got = [row[0].replace("/", ".").rsplit(".", 1)[-1]  # a full name: "every method" judges it
                       for row in _table(method_table, on_unseen, service)]
                names = [row[0] for row in expected]
                foreign = [name for name in got if name.replace("_", "").lower() not in _spelled(names)]
                if foreign:  # another service's methods (which are missing, in what order, spelled how: "every method")
                    raise Fail(f"for {service}: methods {sorted(got)}; expected {sorted(names)}", ONE_SERVICE_HINT)

        def unknown():
            for service in NOT_SERVED:
                _refused(method_table, on_unseen, service, f"method_table(explorer, {service!r})",
                         "a service the server does not serve", UNKNOWN_HINT)
            for service in CLEANED_UP:
                _refused(method_table, on_users, service, f"method_table(explorer, {service!r})",
                         "a name the server does not serve as it is written", UNKNOWN_HINT)
            _table(method_table, on_unseen, "stockroom.v2.Stockroom")  # asked of one server; now of another:
            _refused(method_table, on_users, "stockroom.v2.Stockroom", "method_table(users' explorer, "
                     "'stockroom.v2.Stockroom')", "though the users server does not serve it (the stockroom "
                     "server's table?)", OTHER_SERVER_HINT)
            first = _table(method_table, on_unseen, "stockroom.v2.Ledger")  # a name both serve, other methods:
            got = _table(method_table, on_twin, "stockroom.v2.Ledger")
            if got == first and _spelled([row[0].replace("/", ".").rsplit(".", 1)[-1] for row in got]) != _spelled(
                    [row[0] for row in TWIN_LEDGER]):  # which methods, not how they are written: other cases judge
                raise Fail(f"asked of a second server whose stockroom.v2.Ledger has only Tally (in a file of the "
                           f"same name, beside the same services), method_table gave {[row[0] for row in got]}: the "
                           "first server's table", OTHER_SERVER_HINT)

        return support.run_checks("Exercise 12.1 · a method table, from reflection alone", [
            (RULES["rows"], rows), (RULES["every method"], every_method), (RULES["full names"], full_names),
            (RULES["modes"], modes), (RULES["one service"], one_service), (RULES["unknown"], unknown)])
