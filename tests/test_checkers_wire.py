"""check_framing (10.1): each rule broken on its own by a wrong answer.

A wrong answer is the answer in solutions/ with one mistake put in; it must fail the case of the
rule it breaks, with a hint that names that rule, and pass every other case.
"""
import pytest
from exercises import answer, failed, skeleton, write_cell, wrong, wrong_in_places

from workshop.checkers.wire import RULES, check_framing

FRAMING = "10_1_framing.py"
ENCODE = "return PREFIX.pack(1 if compressed else 0, len(payload)) + payload"
LOOP = "while len(self.buffer) >= PREFIX.size:"
STATUS = 'return int(fields["grpc-status"]), unquote(fields.get("grpc-message", ""))'
MESSAGE = 'unquote(fields.get("grpc-message", ""))'
NO_STATUS = '''    if "grpc-status" not in fields:
        return UNKNOWN, "the trailers carry no grpc-status"
'''

WRONG = {  # rule broken: (the answer with that one mistake, what the hint says)
    "grpcio reads it": (wrong(FRAMING, ENCODE, ENCODE.replace("PREFIX.pack(", 'struct.pack("<BI", ')),
                        "big-endian"),
    "empty": (wrong(FRAMING, ENCODE, f'if not payload:\n        return b""\n    {ENCODE}'), "empty"),
    "flag": (wrong(FRAMING, ENCODE, ENCODE.replace("1 if compressed else 0", "0")), "compressed"),
    "several": (wrong_in_places(FRAMING, {LOOP: LOOP.replace("while", "if"),
                                          "break  # the rest": "return messages  #"}), "in a loop"),
    "own buffer": (wrong_in_places(FRAMING, {
        '    def __init__(self):\n        self.buffer = b""\n': "    buffer = bytearray()  # one for all\n",
        "self.buffer[PREFIX.size:end])": "bytes(self.buffer[PREFIX.size:end]))",
        "            self.buffer = self.buffer[end:]": "            del self.buffer[:end]",
        '        if self.buffer:\n            raise ValueError(f"the stream ended inside a message: {len(self.buffer)}':
        '        left = len(self.buffer)\n        self.buffer.clear()\n        if left:\n'
        '            raise ValueError(f"the stream ended inside a message: {left}'}), "every Decoder shares"),
    "split": (wrong(FRAMING, "self.buffer += data", "self.buffer = data"), "buffer kept between feeds"),
    "across": (wrong(FRAMING, "            self.buffer = self.buffer[end:]",
                     "            self.buffer = self.buffer[end:]\n"
                     "            if len(self.buffer) < PREFIX.size:\n"
                     "                self.buffer = b\"\"  # 'too short to be a message'"), "even a few bytes"),
    "large": (wrong_in_places(FRAMING, {'struct.Struct(">BI")': 'struct.Struct(">BxxH")',
                                        "len(payload)) + payload": "len(payload) & 0xFFFF) + payload"}),
              "all 4 bytes"),
    "server stream": (wrong_in_places(FRAMING, {"        messages = []\n": "", "self.buffer = b\"\"": (
        "self.buffer = b\"\"\n        self.messages = []"), "messages.append": "self.messages.append",
        "        return messages": "        return list(self.messages)"}), "this chunk completed"),
    "truncated": (wrong(FRAMING, "{len(self.buffer)} bytes of it are left over", "some bytes are left over"),
                  "how many"),
    "clean end": (wrong(FRAMING, "        if self.buffer:\n            raise", "        if True:\n            raise"),
                  "only when bytes are left"),
    "ok": (wrong(FRAMING, STATUS, 'if fields["grpc-status"] == "0":\n        return 0, "OK"\n    ' + STATUS),
           "its grpc-message is empty"),
    "error": (wrong(FRAMING, 'int(fields["grpc-status"])', "int(trailers[0][1])"), "by its name"),
    "percent": (wrong(FRAMING, 'unquote(fields.get("grpc-message", ""))', 'fields.get("grpc-message", "")'),
                "unquote"),
    "no message": (wrong(FRAMING, 'fields.get("grpc-message", "")', 'fields["grpc-message"]'), "may be missing"),
    "no status": (wrong_in_places(FRAMING, {NO_STATUS: "", 'int(fields["grpc-status"])':
                                            'int(fields.get("grpc-status", 0))'}), "UNKNOWN (2)"),
}


FIELDS = "    fields = dict(trailers)\n"
DRAINED_DECODER = '''class Decoder:
    """Reads with an offset; drops what it read only once the buffer is drained ("no copying")."""

    def __init__(self):
        self.buffer, self.start = b"", 0

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        self.buffer += data
        messages = []
        while len(self.buffer) - self.start >= PREFIX.size:
            flag, length = PREFIX.unpack_from(self.buffer, self.start)
            end = self.start + PREFIX.size + length
            if len(self.buffer) < end:
                break
            messages.append((flag == 1, self.buffer[self.start + PREFIX.size:end]))
            self.start = end
        if self.start == len(self.buffer):
            self.buffer, self.start = b"", 0
        return messages

    def finish(self) -> None:
        if len(self.buffer) > self.start:
            raise ValueError(f"the stream ended inside a message: {len(self.buffer) - self.start} bytes of it are left")
'''
OFFSET_DECODER = '''class Decoder:
    """Keeps every byte, and where the next message starts: "no copying of the buffer"."""

    def __init__(self):
        self.buffer, self.start = b"", 0

    def feed(self, data):
        self.buffer += data
        messages = []
        while len(self.buffer) - self.start >= PREFIX.size:
            flag, length = PREFIX.unpack_from(self.buffer, self.start)
            end = self.start + PREFIX.size + length
            if len(self.buffer) < end:
                break
            messages.append((flag == 1, self.buffer[self.start + PREFIX.size:end]))
            self.start = end
        return messages

    def finish(self):
        if len(self.buffer) > self.start:
            raise ValueError(f"{len(self.buffer) - self.start} bytes of it are left over")
'''
SHARED_PREFIX_DECODER = '''class Decoder:
    """Keeps its bytes, and the prefix it has read in a dict on the class: one for every Decoder."""
    state = {"flag": None, "need": None}

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data
        messages = []
        while True:
            if self.state["need"] is None:
                if len(self.buffer) < PREFIX.size:
                    break
                self.state["flag"], self.state["need"] = PREFIX.unpack_from(self.buffer)
                self.buffer = self.buffer[PREFIX.size:]
            if len(self.buffer) < self.state["need"]:
                break
            messages.append((self.state["flag"] == 1, self.buffer[:self.state["need"]]))
            self.buffer = self.buffer[self.state["need"]:]
            self.state["need"] = None
        return messages

    def finish(self):
        left = len(self.buffer) + (PREFIX.size if self.state["need"] is not None else 0)
        self.state["need"] = None
        if left:
            raise ValueError(f"the stream ended inside a message: {left} bytes of it are left over")
'''
RECURSIVE_FEED = '''    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        self.buffer += data
        if len(self.buffer) < PREFIX.size:
            return []
        flag, length = PREFIX.unpack_from(self.buffer)
        end = PREFIX.size + length
        if len(self.buffer) < end:
            return []
        message = (flag == 1, self.buffer[PREFIX.size:end])
        self.buffer = self.buffer[end:]
        return [message] + self.feed(b"")
'''


def with_decoder(decoder: str) -> str:
    """The answer with its Decoder class replaced by `decoder`."""
    return answer(FRAMING).split("class Decoder:")[0] + decoder + "\n\ndef status_of" + \
        answer(FRAMING).split("def status_of")[1]


MORE_WRONG = {  # other mistakes, each breaking one rule: (the answer with it, the rule, what the hint says)
    "a 3-byte length in encode": (wrong(FRAMING, ENCODE, 'return bytes([1 if compressed else 0, 0]) + '
                                        'len(payload).to_bytes(3, "big") + payload'), "large", "all 4 bytes"),
    "OK's message dropped": (wrong(FRAMING, STATUS, 'if fields["grpc-status"] == "0":\n        return 0, ""\n    '
                                   + STATUS), "ok", "whatever the code"),
    "grpc-status matched by its end": (wrong(FRAMING, FIELDS, FIELDS + "    for name, value in trailers:\n"
                                             "        if name.endswith(\"grpc-status\"):\n"
                                             "            fields[\"grpc-status\"] = value\n"),
                                       "error", "exact name"),
    "the flag for True alone": (wrong(FRAMING, "1 if compressed else 0", "1 if compressed is True else 0"), "flag",
                                "any true value"),
    "a buffer that is never trimmed": (answer(FRAMING).split("class Decoder:")[0] + OFFSET_DECODER + "\n\ndef status_of"
                                       + answer(FRAMING).split("def status_of")[1], "server stream",
                                       "drop each message's bytes"),
    "HTTP's 200 taken for OK": (wrong(FRAMING, NO_STATUS, '    if "grpc-status" not in fields and '
                                      'fields.get(":status") == "200":\n        return 0, ""\n' + NO_STATUS),
                                "no status", "UNKNOWN (2)"),
    "grpc-status matched by its start": (wrong(FRAMING, FIELDS, FIELDS + "    for name, value in trailers:\n"
                                               "        if name.startswith(\"grpc-status\"):\n"
                                               "            fields[\"grpc-status\"] = value\n"),
                                         "error", "only starts the same way"),
    "None for an empty chunk": (wrong(FRAMING, "        self.buffer += data\n",
                                      "        if not data:\n            return None\n        self.buffer += data\n"),
                                "split", "feed(b'') returns []"),
    "encode's keyword renamed": (wrong_in_places(FRAMING, {"compressed: bool = False": "compress: bool = False",
                                                           "1 if compressed else 0": "1 if compress else 0"}),
                                 "flag", "the keyword is compressed"),
    "unquoted twice": (wrong(FRAMING, 'unquote(fields.get("grpc-message", ""))',
                             'unquote(unquote(fields.get("grpc-message", "")))'), "percent", "unquote(message), once"),
    "message lowered": (wrong(FRAMING, 'unquote(fields.get("grpc-message", ""))',
                              'unquote(fields.get("grpc-message", "")).lower()'), "percent", "change nothing else"),
    "no status, no words": (wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"',
                                  'return UNKNOWN, ""'), "no status", "a message that says so"),
    "no status, a word that says nothing": (wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"',
                                                  'return UNKNOWN, "Unknown"'), "no status", "a message that says so"),
    "a 3-byte length": (wrong(FRAMING, "flag, length = PREFIX.unpack_from(self.buffer)",
                              'flag, length = self.buffer[0], int.from_bytes(self.buffer[2:5], "big")'),
                        "large", "all 4 bytes"),
    "the message stripped": (wrong(FRAMING, MESSAGE, MESSAGE + ".strip()"), "percent", "change nothing else"),
    "OK made up when grpc-message is missing": (
        wrong(FRAMING, MESSAGE, 'unquote(fields.get("grpc-message", "OK" if fields["grpc-status"] == "0" else ""))'),
        "no message", "may be missing"),
    "encode gives a bytearray": (wrong(FRAMING, ENCODE, ENCODE.replace("return PREFIX.pack(", "return bytearray("
                                                                        "PREFIX.pack(").replace(") + payload",
                                                                                                ")) + payload")),
                                 "empty", "return bytes"),
    "no status, the message kept": (wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"',
                                          f'return UNKNOWN, {MESSAGE} or "no grpc-status"'),
                                    "no status", "a message that says so"),
    "the code as a float": (wrong(FRAMING, 'int(fields["grpc-status"])', 'float(fields["grpc-status"])'), "error",
                            "return int(...)"),
    "no status, 'Unknown status'": (wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"',
                                          'return UNKNOWN, "Unknown status"'), "no status", "a message that says so"),
    "no status, 'status OK'": (wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"',
                                     'return UNKNOWN, "status OK"'), "no status", "a message that says so"),
    "the flag as a number": (wrong(FRAMING, "(flag == 1, self.buffer", "(flag, self.buffer"), "flag", "as a bool"),
    "payload as a memoryview": (wrong(FRAMING, "(flag == 1, self.buffer[PREFIX.size:end])",
                                      "(flag == 1, memoryview(self.buffer)[PREFIX.size:end])"), "flag", "as bytes"),
    "empty message left in the buffer": (wrong(FRAMING, LOOP, LOOP.replace(">=", ">")), "clean end",
                                         "an empty message is a whole message"),
    "messages last first": (wrong(FRAMING, "messages.append(", "messages.insert(0, "), "several", "in the order"),
    "finish counts without the prefix": (wrong(FRAMING, "{len(self.buffer)} bytes of it",
                                               "{len(self.buffer) - 5} bytes of it"),
                                         "truncated", "how many"),
    "the first message's flag for all": (wrong(FRAMING, "messages.append((flag == 1,",
                                              "messages.append((bool(self.buffer[:1] == b'\\x01') if not messages "
                                              "else messages[0][0],"), "flag", "each message's own prefix"),
    "quiet inside a prefix": (wrong(FRAMING, "        if self.buffer:\n            raise",
                                    "        if len(self.buffer) >= PREFIX.size:\n            raise"), "truncated",
                              "even fewer than a prefix"),
    "no trailers taken for OK": (wrong(FRAMING, FIELDS, '    if not trailers:\n        return 0, ""\n' + FIELDS),
                                 "no status", "never 0"),
    "an empty message dropped inside a chunk": (
        wrong(FRAMING, "            messages.append(", "            if length == 0 and len(self.buffer) > 5:\n"
                                                      "                self.buffer = self.buffer[5:]\n"
                                                      "                continue\n            messages.append("),
        "several", "an empty message is a whole message"),
    "an empty message ends the chunk": (
        wrong(FRAMING, "            self.buffer = self.buffer[end:]\n",
              "            self.buffer = self.buffer[end:]\n            if length == 0:\n                break\n"),
        "several", "an empty message is a whole message"),
    "at most four messages a chunk": (
        wrong(FRAMING, LOOP, "for _ in range(4):\n            if len(self.buffer) < PREFIX.size:\n"
                             "                break"), "several", "however many there are"),
    "the flag as the value given": (wrong(FRAMING, "1 if compressed else 0", "int(compressed)"), "flag",
                                    "never the value itself"),
    "grpc-status matched by its start, first wins": (
        wrong(FRAMING, FIELDS, "    fields = {}\n    for name, value in trailers:\n"
                               "        if name.startswith('grpc-status') and 'grpc-status' not in fields:\n"
                               "            fields['grpc-status'] = value\n"
                               "        elif not name.startswith('grpc-status'):\n            fields[name] = value\n"),
        "error", "exact name"),
    "only the message under way, when one was": (wrong(FRAMING, "            self.buffer = self.buffer[end:]\n",
                                                       "            self.buffer = self.buffer[end:]\n"
                                                       "            if pending:\n                break\n").replace(
        "        self.buffer += data\n", "        pending = bool(self.buffer)\n        self.buffer += data\n"),
        "several", "the one under way, and every whole one after it"),
    "a buffer trimmed only once drained": (answer(FRAMING).split("class Decoder:")[0] + DRAINED_DECODER
                                           + "\n\ndef status_of" + answer(FRAMING).split("def status_of")[1],
                                           "server stream", "drop each message's bytes"),
    "grpc-message matched by its name inside another": (
        wrong(FRAMING, FIELDS, FIELDS + "    for name, value in trailers:\n        if 'grpc-message' in name:\n"
                                        "            fields['grpc-message'] = value\n"), "error", "exact name"),
    "the code read as hexadecimal": (wrong(FRAMING, 'int(fields["grpc-status"])', 'int(fields["grpc-status"], 16)'),
                                     "no message", "decimal"),
    "a gzip payload unzipped, quietly when it is no gzip": (
        wrong(FRAMING, "messages.append((flag == 1, self.buffer[PREFIX.size:end]))",
              "payload = self.buffer[PREFIX.size:end]\n            if flag == 1:\n                try:\n"
              "                    payload = __import__('gzip').decompress(payload)\n"
              "                except OSError:\n                    pass\n"
              "            messages.append((flag == 1, payload))"), "flag", "unzipping it is the next step's job"),
    "a gzip payload unzipped": (wrong(FRAMING, "(flag == 1, self.buffer[PREFIX.size:end])",
                                      "(flag == 1, __import__('gzip').decompress(self.buffer[PREFIX.size:end]) "
                                      "if flag == 1 else self.buffer[PREFIX.size:end])"),
                                "flag", "unzipping it is the next step's job"),
    "an empty chunk clears the buffer": (wrong(FRAMING, "        self.buffer += data\n",
                                               "        if not data:\n            self.buffer = b\"\"\n"
                                               "            return []\n        self.buffer += data\n"),
                                         "split", "keeps the buffer as it is"),
    "a 4 MiB limit of its own": (wrong(FRAMING, "    return PREFIX.pack(", "    if len(payload) > 4 * 1024 * 1024:\n"
                                       "        raise ValueError('over gRPC\\'s 4 MiB limit')\n"
                                       "    return PREFIX.pack("), "large", "no size limit of its own"),
    "finish says how many bytes are missing, inside a prefix too": (
        wrong(FRAMING, "{len(self.buffer)} bytes of it are left over",
              "{(PREFIX.unpack_from(self.buffer)[1] + PREFIX.size if len(self.buffer) >= PREFIX.size else PREFIX.size)"
              " - len(self.buffer)} more bytes were expected"), "truncated", "not how many are missing"),
    "a prefix read kept on the class": (with_decoder(SHARED_PREFIX_DECODER), "own buffer",
                                         "kept on the class is shared too"),
    "a count of what is left that an empty chunk sets to 0": (wrong_in_places(FRAMING, {
        "        self.buffer += data\n": "        if not data:\n            self.left = 0\n            return []\n"
                                       "        self.buffer += data\n",
        "        return messages": "        self.left = len(self.buffer)\n        return messages",
        "        if self.buffer:\n            raise": "        if getattr(self, 'left', 0):\n            raise"}),
        "truncated", "an empty chunk changes nothing"),
    "a feed that calls itself for the next message": (
        wrong(FRAMING, answer(FRAMING)[answer(FRAMING).index("    def feed(self"):answer(FRAMING).index(
            "    def finish(self")], RECURSIVE_FEED + "\n"), "several", "not a call of feed inside feed"),
    "at most a hundred messages a chunk": (
        wrong(FRAMING, LOOP, "for _ in range(100):\n            if len(self.buffer) < PREFIX.size:\n"
                             "                break"), "several", "however many there are"),
    "compressed unless it is False itself": (wrong(FRAMING, "1 if compressed else 0",
                                                   "1 if compressed is not False else 0"), "flag", "any false value"),
    "an empty payload never flagged": (wrong(FRAMING, "1 if compressed else 0", "1 if compressed and payload else 0"),
                                       "flag", "an empty one too"),
    "an empty message never compressed": (wrong(FRAMING, "(flag == 1, self.buffer[PREFIX.size:end])",
                                                "(flag == 1 and length > 0, self.buffer[PREFIX.size:end])"),
                                          "flag", "an empty message has one too"),
    "grpc-message read only once grpc-status was seen": (wrong(FRAMING, FIELDS, """\
    fields = {}
    for name, value in trailers:
        if name == "grpc-status" or (name == "grpc-message" and "grpc-status" in fields):
            fields[name] = value
"""), "error", "any order"),
    "every chunk kept": (wrong(FRAMING, "        self.buffer += data\n",
                               "        self.fed = getattr(self, 'fed', [])\n        self.fed.append(data)  # \"for "
                               "debugging\"\n        self.buffer += data\n"), "server stream",
                         "drop each message's bytes"),
    "compressed by encode": (wrong_in_places(FRAMING, {ENCODE: "import zlib\n    if compressed:\n        payload = "
                                                                "zlib.compress(payload)\n    " + ENCODE}),
                             "flag", "writes the payload it was given"),
}


@pytest.mark.parametrize("mistake", MORE_WRONG)
def test_more_wrong_answers_fail_only_the_rule_they_break(mistake, tmp_path):
    source, rule, hint = MORE_WRONG[mistake]
    result = check(source, tmp_path)
    assert failed(result) == {RULES[rule]}, repr(result)
    assert hint in result[RULES[rule]].hint, repr(result)


def check(source: str, folder):
    result = check_framing(str(write_cell(source, folder)))
    assert "Traceback" not in repr(result)
    return result


HINTS_OF_MISTAKES_THAT_BREAK_MORE = {  # the case, and what its hint must say, for a mistake that breaks several
    "the code as a string": (wrong(FRAMING, 'int(fields["grpc-status"])', 'fields["grpc-status"]'), "ok",
                             "plain int"),
    "no buffer between feeds": (WRONG["split"][0], "own buffer", "keeps between feeds"),
    "no status as the text '2'": (wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"',
                                        'return "2", "the trailers carry no grpc-status"'), "no status",
                                  "not the text '2'"),
}


@pytest.mark.parametrize("mistake", HINTS_OF_MISTAKES_THAT_BREAK_MORE)
def test_a_mistake_that_breaks_several_rules_gets_its_own_hint_where_it_shows(mistake, tmp_path):
    source, rule, hint = HINTS_OF_MISTAKES_THAT_BREAK_MORE[mistake]
    result = check(source, tmp_path)
    assert RULES[rule] in failed(result) and hint in result[RULES[rule]].hint, repr(result)


@pytest.mark.parametrize("emptied", ["while trailers:\n        name, value = trailers.pop(0)",
                                     "trailers.sort()\n    for name, value in trailers:"])
def test_a_status_of_that_changes_its_list_fails_every_status_case_and_leaves_the_next_check_sound(emptied, tmp_path):
    mutates = wrong(FRAMING, FIELDS, f"    fields = {{}}\n    {emptied}\n        fields[name] = value\n")
    result = check(mutates, tmp_path)
    status_rules = {RULES[name] for name in ("ok", "error", "percent", "no message", "no status")}
    assert RULES["ok"] in failed(result) and failed(result) <= status_rules, repr(result)  # sorted: some stay right
    assert all("change nothing of it" in result[rule].hint for rule in failed(result)), repr(result)
    assert check(answer(FRAMING), tmp_path).all_passed  # the checker's own trailers are as they were


def test_every_rule_has_a_wrong_answer():
    assert set(WRONG) == set(RULES)


# Mistakes that break a second rule as well, by their nature: a little-endian length is wrong at any size; a
# buffer that does not keep its bytes (so two Decoders' halves are lost too), or feed that returns old messages,
# also garbles a prefix cut across chunks, and a stream of three cut in two; dropping a prefix's first bytes also
# hides them from finish(); an "OK" made up for code 0 is wrong with or without a grpc-message; a status taken
# from the first trailer is wrong for grpcio's OK, which sends grpc-message first.
ALSO_BROKEN = {"grpcio reads it": {"large"}, "split": {"across", "own buffer", "several"},
               "server stream": {"across", "several"},
               "across": {"truncated"}, "ok": {"no message"}, "error": {"ok"}}  # grpcio's OK: grpc-status second


@pytest.mark.parametrize("rule", WRONG)
def test_wrong_answer_fails_only_the_rule_it_breaks(rule, tmp_path):
    source, hint = WRONG[rule]
    result = check(source, tmp_path)
    assert failed(result) == {RULES[name] for name in {rule, *ALSO_BROKEN.get(rule, ())}}, repr(result)
    assert hint in result[RULES[rule]].hint, repr(result)


def test_skeleton_is_reported_as_not_done_on_every_case(tmp_path):
    result = check(skeleton(FRAMING), tmp_path)
    assert result.passed == 0 and len(result.cases) == len(RULES), repr(result)
    assert all(case.got.startswith("not done yet") for case in result.cases), repr(result)


def test_answer_passes_every_case(tmp_path):
    result = check(answer(FRAMING), tmp_path)
    assert result.all_passed, repr(result)


def test_answer_passes_as_a_module_object(tmp_path):
    import importlib.util

    path = write_cell(answer(FRAMING), tmp_path)
    spec = importlib.util.spec_from_file_location("framing_answer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert check_framing(module).all_passed


def test_a_length_in_little_endian_is_told_what_grpcio_answered(tmp_path):
    result = check(WRONG["grpcio reads it"][0], tmp_path)
    assert result[RULES["grpcio reads it"]].got.startswith("grpcio answered grpc-status "), repr(result)


def test_finish_that_never_raises_is_told_it_said_nothing(tmp_path):
    result = check(wrong(FRAMING, "        if self.buffer:\n            raise", "        if False:\n            raise"),
                   tmp_path)
    assert failed(result) == {RULES["truncated"]}
    assert result[RULES["truncated"]].got == "the stream ended inside a message, and finish() said nothing"


def test_finish_may_name_the_bytes_still_missing_instead(tmp_path):
    missing = wrong(FRAMING, "{len(self.buffer)} bytes of it are left over",
                    "{PREFIX.unpack_from(self.buffer)[1] + PREFIX.size - len(self.buffer)} more bytes were expected")
    assert check(missing, tmp_path).all_passed


def test_unquote_plus_turns_plus_into_a_space_and_fails_the_percent_rule(tmp_path):
    source = wrong_in_places(FRAMING, {"from urllib.parse import unquote": "from urllib.parse import unquote_plus",
                                       "unquote(fields": "unquote_plus(fields"})
    result = check(source, tmp_path)
    assert failed(result) == {RULES["percent"]}, repr(result)


def test_a_module_that_does_not_run_is_reported_on_every_case(tmp_path):
    result = check("%%writefile my_framing.py\ndef encode(:\n", tmp_path)
    assert result.passed == 0
    assert all(case.got.startswith("your module does not load: SyntaxError") for case in result.cases)


def test_a_file_not_written_yet_is_reported_without_its_folder(tmp_path):
    result = check_framing(str(tmp_path / "my_framing.py"))
    assert result.passed == 0 and str(tmp_path) not in repr(result)


def test_a_message_taken_before_it_is_whole_is_told_to_wait_for_all_of_it(tmp_path):
    result = check(wrong(FRAMING, "            if len(self.buffer) < end:\n                break", ""), tmp_path)
    assert "only when the buffer holds all of it" in result[RULES["split"]].hint, repr(result)


def test_feed_that_gives_bare_payloads_is_told_the_shape_of_its_answer(tmp_path):
    result = check(wrong(FRAMING, "messages.append((flag == 1, self.buffer[PREFIX.size:end]))",
                         "messages.append(self.buffer[PREFIX.size:end])"), tmp_path)
    feeding = [RULES[rule] for rule in ("several", "split", "across", "own buffer", "server stream")]
    assert all("(compressed, payload) pair" in result[label].hint for label in feeding), repr(result)


def test_finish_that_names_the_wrong_count_is_told_the_right_one(tmp_path):
    result = check(MORE_WRONG["finish counts without the prefix"][0], tmp_path)
    assert "which says 7, but 12 bytes are left" in result[RULES["truncated"]].got, repr(result)


def test_a_feed_that_never_drops_what_it_took_is_stopped_inside_its_loop(tmp_path, monkeypatch):
    from workshop.checkers import wire as framing_checker

    monkeypatch.setattr(framing_checker, "CALL_SECONDS", 0.3)  # each feed case stops it: 8 of them
    result = check(wrong(FRAMING, "            self.buffer = self.buffer[end:]\n", ""), tmp_path)
    assert "never returned" in result[RULES["several"]].got, repr(result)
    assert "drop its bytes from the buffer" in result[RULES["several"]].hint, repr(result)


def test_a_prefix_kept_aside_is_still_left_over_at_finish(tmp_path):
    pending = wrong_in_places(FRAMING, {
        '        self.buffer = b""\n': '        self.buffer = b""\n        self.pending = None  # a prefix, read\n',
        "        while len(self.buffer) >= PREFIX.size:\n            flag, length = PREFIX.unpack_from(self.buffer)\n"
        "            end = PREFIX.size + length\n            if len(self.buffer) < end:":
        "        while len(self.buffer) >= PREFIX.size or self.pending:\n"
        "            if self.pending is None:\n"
        "                self.pending, self.buffer = PREFIX.unpack_from(self.buffer), self.buffer[PREFIX.size:]\n"
        "            flag, length = self.pending\n            end = length\n            if len(self.buffer) < end:",
        "messages.append((flag == 1, self.buffer[PREFIX.size:end]))":
        "messages.append((flag == 1, self.buffer[:end]))\n            self.pending = None",
        "{len(self.buffer)} bytes of it": "{len(self.buffer) + (5 if self.pending else 0)} bytes of it"})
    result = check(pending, tmp_path)
    assert failed(result) == {RULES["truncated"]}, repr(result)
    assert "a prefix whose payload never came" in result[RULES["truncated"]].hint, repr(result)


def test_any_trailer_named_status_breaks_the_error_and_no_status_rules(tmp_path):
    """`"status" in name` takes HTTP's :status (200) and grpc-status-details-bin for grpc-status."""
    source = wrong(FRAMING, FIELDS, FIELDS + "    for name, value in trailers:\n        if \"status\" in name:\n"
                   "            fields[\"grpc-status\"] = value\n")
    result = check(source, tmp_path)
    assert failed(result) == {RULES["error"], RULES["no status"]}, repr(result)
    assert "exact name" in repr(result) and "gave (200, '')" in repr(result), repr(result)


@pytest.mark.parametrize("words", ["the trailers did not include grpc-status", "lacking grpc-status",
                                   "the stream ended before a status arrived", "didn't get a status",
                                   "grpc-status missing from the trailers"])
def test_a_missing_status_said_in_other_words_passes(words, tmp_path):
    source = wrong(FRAMING, 'return UNKNOWN, "the trailers carry no grpc-status"', f"return UNKNOWN, {words!r}")
    result = check(source, tmp_path)
    assert result.all_passed, repr(result)


def test_a_feed_that_gets_even_one_message_wrong_is_told_to_fix_that_first(tmp_path):
    """A little-endian read breaks every feed case; their first hint names feed's basics, not a finer point."""
    result = check(wrong(FRAMING, "PREFIX.unpack_from(self.buffer)", "struct.unpack_from('<BI', self.buffer)"),
                   tmp_path)
    assert "first make one whole message, in one chunk, come back" in result[RULES["flag"]].hint, repr(result)
    assert "it gave []" in result[RULES["flag"]].hint, repr(result)


BYTE_BY_BYTE_DECODER = '''class Decoder:
    """Reads one byte at a time, and keeps where it is between feeds: slow, and right."""

    def __init__(self):
        self.prefix, self.payload, self.length = bytearray(), bytearray(), None

    def feed(self, data):
        messages = []
        for byte in data:
            if self.length is None:
                self.prefix.append(byte)
                if len(self.prefix) == PREFIX.size:
                    self.length = int.from_bytes(self.prefix[1:], "big")
            else:
                self.payload.append(byte)
            if self.length is not None and len(self.payload) == self.length:
                messages.append((self.prefix[0] == 1, bytes(self.payload)))
                self.prefix, self.payload, self.length = bytearray(), bytearray(), None
        return messages

    def finish(self):
        if self.prefix:
            raise ValueError(f"{len(self.prefix) + len(self.payload)} bytes of a message are left over")
'''


def test_a_status_0_taken_for_a_missing_one_is_named_in_both_cases_it_breaks(tmp_path):
    """`if not int(fields.get("grpc-status", 0))`: OK's trailers, and a lone grpc-status 0, look like none."""
    zero_as_none = wrong(FRAMING, '    if "grpc-status" not in fields:',
                         '    if not int(fields.get("grpc-status", 0)):')
    result = check(zero_as_none, tmp_path)
    assert failed(result) == {RULES["ok"], RULES["no message"]}, repr(result)
    assert all("not whether its value is true" in result[label].hint for label in failed(result)), repr(result)


def test_one_list_for_every_feed_is_named_in_every_feed_case(tmp_path):
    """`def feed(self, data, messages=[])`: every feed after the first gives back the list of all before."""
    source = wrong_in_places(FRAMING, {"def feed(self, data: bytes)": "def feed(self, data: bytes, messages=[])",
                                       "        messages = []\n": ""})
    result = check(source, tmp_path)
    feeding = {RULES[rule] for rule in ("flag", "several", "own buffer", "split", "across", "large", "server stream",
                                        "truncated", "clean end")}
    assert failed(result) and failed(result) <= feeding, repr(result)
    assert all("a default argument such as messages=[]" in result[label].hint for label in failed(result)), \
        repr(result)


def test_a_decoder_that_goes_byte_by_byte_is_slow_but_passes(tmp_path):
    """Its 70,000-byte message runs ~560,000 lines in one feed: the checker's budget grows with the bytes given."""
    source = answer(FRAMING).split("class Decoder:")[0] + BYTE_BY_BYTE_DECODER + "\n\ndef status_of" + \
        answer(FRAMING).split("def status_of")[1]
    result = check(source, tmp_path)
    assert result.all_passed, repr(result)


def test_a_loop_that_appends_for_ever_is_stopped_before_it_fills_the_memory():
    from workshop.checkers import wire as framing_checker

    kept = []

    def hoards(data):
        while True:
            kept.append(bytearray(data))

    with pytest.raises(framing_checker.Fail) as stopped:
        framing_checker.attempt("feed(...)", hoards, bytes(1 << 20), hint="")
    assert "never returned" in stopped.value.got and sum(map(len, kept)) < 2 * framing_checker.GROWTH_LIMIT


def test_a_loop_that_spins_for_ever_is_stopped_and_the_kernel_goes_on(monkeypatch):
    from workshop.checkers import wire as framing_checker

    monkeypatch.setattr(framing_checker, "CALL_SECONDS", 0.3)

    def spins(data):
        while True:
            pass

    with pytest.raises(framing_checker.Fail) as stopped:
        framing_checker.attempt("feed(...)", spins, b"abc", hint="")
    assert "ran for 0.3 s" in stopped.value.got
    assert [framing_checker.attempt("feed(...)", len, b"abc", hint="") for _ in range(2000)] == [3] * 2000


def test_a_status_code_given_as_an_int_enum_passes(tmp_path):
    """An IntEnum is an int: every case takes it alike (only a float, say, is no whole number)."""
    as_an_enum = wrong(FRAMING, 'int(fields["grpc-status"])', 'Code(int(fields["grpc-status"]))')
    cell_magic, _, module = as_an_enum.partition("\n")  # the %%writefile line stays first
    code = "import enum\n\nCode = enum.IntEnum('Code', {f'C{n}': n for n in range(17)})\n"
    result = check(f"{cell_magic}\n{code}{module}", tmp_path)
    assert result.all_passed, repr(result)


def test_an_encode_without_its_payload_is_told_to_add_it(tmp_path):
    result = check(wrong(FRAMING, "len(payload)) + payload", "len(payload))"), tmp_path)
    told = [case for case in result.cases if not case.passed and "prefix + payload" in case.hint]
    assert told and "encode of 16 MiB gave 5 bytes" in repr(result), repr(result)
