"""Checker for Exercise 10.1 (notebook 10): gRPC's message framing and the status in the trailers.

The learner writes a module with `encode`, a `Decoder` (`feed`, `finish`) and `status_of`. The
checker judges what they return: it sends `encode`'s bytes by hand (workshop.wire) to the kit's
users server, feeds the Decoder bytes cut in every way HTTP/2 may cut them, and what that server
really sent for a server stream, and hands `status_of` trailers as grpcio writes them. Its rules
are below, one case each; tests/test_checkers_wire.py breaks each rule on its own.
"""
from __future__ import annotations

import ctypes
import gzip
import re
import struct
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import psutil

import server_runner
from workshop import wire
from workshop.checkers.support import TIMEOUT, CheckResult, Fail, load_module, run_checks
from workshop.protos import users_pb2

RULES = {  # Exercise 10.1: each rule is one case; a wrong-answer test breaks each on its own
    "grpcio reads it": "encode(payload) → bytes grpcio reads: a GetUser sent by hand with them gets its user back",
    "empty": "encode(b'') → 5 bytes: flag 0, length 0 (an empty message is still a message)",
    "flag": "the compressed flag: encode(..., compressed=True) starts with 1; feed gives (compressed, payload) "
            "pairs, the flag a bool (1 is True, 0 False), the payload bytes as they came (a gzip payload stays "
            "gzip's)",
    "several": "one chunk holding several messages (empty ones among them; fifty in one chunk; a chunk that ends "
               "one under way and holds whole ones after it) → feed returns them all, in order",
    "own buffer": "two Decoders fed in turn → each gives its own stream's messages (each keeps its own buffer)",
    "split": "one message cut into many chunks, one byte at a time (prefix too; an empty chunk among them gives "
             "[]) → it comes once, at its last byte",
    "across": "a chunk that ends one message and starts the next one's prefix → the first now, the second later",
    "large": "a message of 70,000 bytes → a 4-byte length (00 01 11 70), and it comes back whole; one of 16 MiB "
             "→ 01 00 00 00",
    "server stream": "what the users server sent for GetUsersByType, fed frame by frame → each frame's user, once; "
                     "and a long stream (2,000 messages of 1 KB) leaves the Decoder holding none of what it gave",
    "truncated": "a stream that ends inside a message, or inside its prefix → finish() raises, saying how many "
                 "bytes are left",
    "clean end": "a stream that ends between messages (after an empty one too, or before any) → finish() is quiet",
    "ok": "the trailers of an OK call → (0, ''), or (0, its message) when it carries one",
    "error": "a trailers-only error (grpc-status after :status and content-type, then trailing metadata and "
             "grpc-status-details-bin, as grpcio writes them) → (5, its message), an int",
    "percent": "a percent-encoded grpc-message → its text, as sent: %20 is a space, %C3%A9 is é, %25 is %, "
               "+ stays +, capitals stay",
    "no message": "grpc-status without grpc-message → (that code, '')",
    "no status": "no grpc-status at all (:status 200 alone too; no trailers at all) → UNKNOWN (2) and a message "
                 "that says so, as the gRPC spec says",
}
CARS = users_pb2.UserRequest(id=3)  # carol: a user the notebook never asks for by hand
NORMAL_USERS = ["bob", "carol", "erin"]  # data/users.json's users of USER_TYPE_NORMAL, in id order
PAYLOAD = bytes(range(256)) * 2  # 512 bytes: a length that needs more than one byte
OK_TRAILERS = [("grpc-message", ""), ("grpc-status", "0")]  # as grpcio sends them: the message first
NOT_FOUND = [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "5"),
             ("grpc-message", "no user has id 999")]
# grpcio's own order: its status, then the servicer's trailing metadata, then rich details (11's google.rpc.Status)
NOT_FOUND_IN_FULL = [*NOT_FOUND, ("x-trace", "on"), ("x-upstream-grpc-status", "14"),
                     ("x-error-message", "upstream%20said%20no"),
                     ("grpc-status-details-bin", "CAUSEm5vIHVzZXIgaGFzIGlkIDk5OQ"),
                     ("x-upstream-grpc-message", "the%20proxy%27s%20words")]
MESSAGE_FIRST = [("grpc-message", "no user has id 999"), ("grpc-status", "5")]  # grpcio's own order
DETAILS_FIRST = [("grpc-status-details-bin", "CAUSEm5vIHVzZXIgaGFzIGlkIDk5OQ"),
                 ("x-upstream-grpc-message", "the%20proxy%27s%20words"), ("grpc-status", "5"),
                 ("grpc-message", "no user has id 999")]  # another server's order: details before the status
OK_WITH_MESSAGE = [("grpc-status", "0"), ("grpc-message", "served from cache")]  # set_details on an OK call
ANY_ORDER_HINT = ("trailers come in any order (grpcio sends grpc-message first): look each one up by its name, "
                  "dict(trailers), not in the order you expect them")
EXACT_NAME_HINT = ("find grpc-status by its exact name, dict(trailers)[\"grpc-status\"]: :status is HTTP's (200), and "
                   "grpc-status-details-bin only starts the same way")
PERCENT = [("grpc-status", "3"), ("grpc-message", "nickname%20%C3%A9l%C3%A8ve+1%20is%20100%25%20taken")]
PERCENT_TEXT = "nickname élève+1 is 100% taken"
PERCENT_TWICE = [("grpc-status", "3"), ("grpc-message", "Code%2041%20Is%20Not%2050%2541")]  # a second unquote breaks it
PERCENT_TWICE_TEXT = "Code 41 Is Not 50%41"
PERCENT_SPACES = [("grpc-status", "3"), ("grpc-message", "%20padded%20")]  # spaces at the ends are the message's
PERCENT_SPACES_TEXT = " padded "
SAYS_MISSING = (r"missing|lost|absent|without|never|lack|\bnone\b|\bno\b[^.]*status|not (sent|received|given|found|"
                r"there|present)|did ?n[o']?t (include|get|receive|carry|arrive|come|send)|"
                r"before [^.]*(status|trailer)")
HUGE_PREFIX = b"\x00\x01\x00\x00\x00"  # a length of 16,777,216: its first length byte is not 0
LARGE = bytes(range(256)) * 273 + bytes(112)  # 70,000 bytes: more than 2 bytes of length can say
UNKNOWN = 2
ODD_CHUNK = 7_001  # bytes: chunks end inside messages (1,029 bytes each), and meet an end only after 7 MB
THREE = [b"first", b"second", b"third!"]  # cut in two at every byte
LONG_STREAM, LONG_STREAM_KEEPS = 2_000, 256 * 1024  # messages of 1 KB, and the bytes a Decoder may keep after them
TRIM_HINT = ("drop each message's bytes from the buffer once you give it (self.buffer = self.buffer[end:]): a "
             "stream may run for hours, and a buffer that only grows fills the memory")
CALL_SECONDS = 1.0  # one call of the learner's code: the answer's longest takes ms, a decoder going byte by byte 0.05 s
GROWTH_LIMIT = 512 * 1024 * 1024  # bytes one call may add to the kernel's memory: a loop that appends as it spins
WATCH_EVERY = 0.005  # seconds between the watcher's looks at the clock and the memory
RUNAWAY_HINT = ("a loop that never ends: after taking a message out, drop its bytes from the buffer "
                "(self.buffer = self.buffer[end:]), and leave the loop when fewer bytes are left than the next "
                "message needs")
ZERO_HINT = ("grpc-status 0 came, and 0 is OK: ask whether the name is there ('grpc-status' in fields), not "
             "whether its value is true (0, and '0' read as int, are false in Python)")
DECOMPRESS_HINT = ("feed gives each payload as it came, compressed or not, with its flag: unzipping it is the next "
                   "step's job (the grpc-encoding header names the algorithm), not the framing's")
GZIPPED = gzip.compress(b"zip", mtime=0)  # a compressed payload as grpc-encoding: gzip sends it
REUSED_LIST_HINT = ("make a new list in each feed (messages = [] inside feed): a default argument such as "
                    "messages=[] is made once and shared by every call, so each feed gives back all that came before")
LIMIT_HINT = ("the framing has no size limit of its own: the 4 MiB is grpcio's choice as a receiver "
              "(max_receive_message_length), checked after the framing. Take all 4 bytes of length, big-endian "
              "(struct's 'I'), whatever they say")
MANY_EMPTY = 2_000  # empty messages in one chunk (10 KB): a loop with a cap of its own, or recursion, falls short
TRUNCATED_AT = 12  # bytes of a 25-byte message that arrive before the stream ends


EMPTY_CHUNK_HINT = ("an empty chunk (an empty DATA frame, such as the one that ends a stream) completes no message: "
                    "feed(b'') returns [], as every feed that completed none")
SHAPE_HINT = ("feed returns a list with one (compressed, payload) pair per message this chunk completed, "
              "e.g. [(False, b'...')], and [] when it completed none")
EMPTY_MESSAGE_HINT = ("an empty message is a whole message: a prefix that says length 0 and a payload of b''; take "
                      "messages while the buffer holds at least 5 bytes, and give the empty one as (False, b'')")
WHOLE_ONLY_HINT = ("take a message out only when the buffer holds all of it, its 5-byte prefix and `length` bytes; "
                   "leave a message that is not whole in the buffer for the next chunk")
BASIC_HINT = ("first make one whole message, in one chunk, come back: feed(encode(b'abc')) must give "
              "[(False, b'abc')], and {}. In feed: add the chunk to self.buffer; while it holds at least 5 bytes, "
              "read the prefix (flag, length = PREFIX.unpack_from(self.buffer), big-endian); once it holds all "
              "5 + length bytes, take (flag == 1, the payload) out and keep the rest")
OWN_BUFFER_HINT = ("set the buffer up in __init__ (self.buffer = b\"\"): a buffer kept on the class, or in the module, "
                   "is one buffer that every Decoder shares, and two streams' bytes get mixed")


def framed(payload: bytes, compressed: bool = False) -> bytes:
    """The checker's own bytes for one message, to feed the learner's Decoder."""
    return struct.pack(">BI", compressed, len(payload)) + payload


def request_headers(address: str, method: str) -> list[tuple[str, str]]:
    return [(":method", "POST"), (":scheme", "http"), (":path", f"/users.v1.UserManager/{method}"),
            (":authority", address), ("content-type", "application/grpc+proto"), ("te", "trailers"),
            ("grpc-timeout", "2S")]


def load(module):
    """The learner's module: a module object as it is, or a path such as "my_framing.py", read afresh."""
    if not isinstance(module, (str, Path)):
        return module
    path = Path(module)
    if not path.is_file():
        raise FileNotFoundError(f"no file {path.name}: run the exercise cell first, it writes the file")
    return load_module(path)


def shown(value, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width] + " …"


class _Runaway(Exception):
    """The learner's code ran longer in one call than any answer needs, or grew the memory past GROWTH_LIMIT: a
    loop that never ends."""


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise `exception` in the thread `thread_id` at its next bytecode (None takes back one not raised yet):
    CPython's PyThreadState_SetAsyncExc, the only way to stop a loop of another thread from outside."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exception) if exception else None)


class _Watch:
    """One thread, for the kernel's life, that stops every call of bounded() that runs too long or grows too much."""

    def __init__(self):
        self.lock, self.armed, self.wake = threading.Lock(), {}, threading.Event()
        self.process, self.thread = psutil.Process(), None

    def arm(self, thread_id: int) -> None:
        with self.lock:
            self.armed[thread_id] = {"deadline": time.monotonic() + CALL_SECONDS, "fired": False,
                                     "start": self.process.memory_info().rss}
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="checker-10.1-watch", daemon=True)
                self.thread.start()
        self.wake.set()

    def disarm(self, thread_id: int) -> bool:
        """Whether the call was stopped; a stop raised into it but not yet delivered is taken back."""
        with self.lock:
            fired = self.armed.pop(thread_id)["fired"]
            if fired:
                _raise_in(thread_id, None)
        return fired

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(WATCH_EVERY)
            rss, now = self.process.memory_info().rss, time.monotonic()
            with self.lock:
                if not self.armed:
                    self.wake.clear()
                for thread_id, call in self.armed.items():
                    if not call["fired"] and (now > call["deadline"] or rss - call["start"] > GROWTH_LIMIT):
                        call["fired"] = True
                        _raise_in(thread_id, _Runaway)


_watch = _Watch()


def bounded(function, *args):
    """`function(*args)`, stopped with _Runaway after CALL_SECONDS, or once it has grown the process's memory by
    GROWTH_LIMIT (a watcher looks every WATCH_EVERY seconds).

    A case that times out leaves its thread running, so an endless loop would go on in the learner's
    kernel for good (one that appends as it loops fills the memory): this stops it inside the loop. A
    watcher thread costs the learner's code nothing, where a trace function would slow every line of it
    (a correct decoder that walks its bytes one by one would run out of time)."""
    caller = threading.get_ident()
    _watch.arm(caller)
    try:
        result = function(*args)
    except _Runaway:
        _watch.disarm(caller)
        raise _Runaway from None
    except BaseException:
        if _watch.disarm(caller):
            raise _Runaway from None
        raise
    if _watch.disarm(caller):
        raise _Runaway
    return result


def attempt(what: str, function, *args, hint: str):
    """`function(*args)`; NotImplementedError reads "not done yet", any other exception names `what`."""
    if function is None:
        raise Fail(f"your module has no {what.split('(')[0]}", "the exercise cell defines encode, Decoder and "
                   "status_of: run it again, unchanged names")
    try:
        return bounded(function, *args)
    except _Runaway:
        raise Fail(f"{what} never returned: it ran for {CALL_SECONDS:g} s (or grew the memory by half a GiB), and "
                   "the checker stopped it", RUNAWAY_HINT) from None
    except NotImplementedError:
        raise Fail(f"not done yet: {what.split('(')[0]} still raises NotImplementedError",
                   "write it in the exercise cell, run that cell, then run the checker again") from None
    except RecursionError:
        raise Fail(f"{what} raised RecursionError: it called itself too deep", "take the messages out in a loop, "
                   "not a call of feed inside feed: Python stops those about 1,000 deep, and a chunk may hold more "
                   "messages than that") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise Fail(f"{what} raised {type(error).__name__}: {str(error)[:80]}", DECOMPRESS_HINT) from None
    except Exception as error:
        raise Fail(f"{what} raised {type(error).__name__}: {str(error)[:80]}", hint) from None


def _kept_after_a_long_stream(reader, hint: str, chunk: int | None = None) -> int:
    """The bytes still allocated by `reader` after it was fed a long stream (message by message, or in chunks of
    `chunk` bytes), beyond the bytes of the messages it has not given back yet."""
    message = framed(bytes(1024))
    stream = (message * LONG_STREAM)[:-500] if chunk else b""  # it stops inside the last one: never drained
    starts = range(0, len(stream), chunk) if chunk else range(LONG_STREAM)
    given = 0  # bytes of the messages feed gave back: only those must have left the buffer
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in starts:  # each piece made here, while memory is traced: a Decoder that keeps them shows
            piece = stream[start:start + chunk] if chunk else framed(bytes(1024))
            got = attempt("feed(...)", reader.feed, piece, hint=hint)
            given += sum(5 + len(message[1]) for message in got or () if isinstance(message, tuple) and
                         len(message) == 2 and isinstance(message[1], (bytes, bytearray, memoryview)))
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    if chunk:  # the end of the last message: a buffer shared by mistake must not carry it into the next case
        attempt("feed(...)", reader.feed, message[-500:], hint=hint)
    return kept - ((len(stream) if chunk else len(message) * LONG_STREAM) - given)  # what it holds of what it gave


def check_framing(module) -> CheckResult:
    """Exercise 10.1: `module` is the learner's module (or the path of its file, read afresh)."""
    try:
        framing = load(module)
    except Exception as error:  # a file not written yet, or one that does not run: every case says so
        problem = Fail(f"your module does not load: {type(error).__name__}: {str(error)[:100]}",
                       "run the exercise cell; fix what the message names; run this cell again")

        def broken():
            raise problem
        return run_checks("Exercise 10.1 · message framing and status", [(rule, broken) for rule in RULES.values()])
    encode, status_of = getattr(framing, "encode", None), getattr(framing, "status_of", None)
    decoder_class = getattr(framing, "Decoder", None)

    def decoder():
        return attempt("Decoder()", decoder_class, hint="Decoder() takes no arguments; set up its buffer in __init__")

    given: list[list] = []  # every list feed returned in this check: a list given twice is shared by its calls

    def feed(chunks: list[bytes], hint: str, into=None) -> list[list]:
        into = into or decoder()
        got = []
        for chunk in chunks:
            messages = attempt("feed(...)", into.feed, chunk, hint=hint)
            if isinstance(messages, list) and any(messages is earlier for earlier in given):
                raise Fail(f"feed gave back the very list it gave before, now {shown(messages)}", REUSED_LIST_HINT)
            given.append(messages)
            got.append(messages)
        for chunk, messages in zip(chunks, got, strict=True):
            if not chunk and messages != []:
                raise Fail(f"feed(b'') gave {shown(messages)}; expected []", EMPTY_CHUNK_HINT)
            if not isinstance(messages, list) or not all(isinstance(m, tuple) and len(m) == 2 for m in messages):
                raise Fail(f"feed gave {shown(messages)}; expected a list of (compressed, payload) pairs", SHAPE_HINT)
        return got

    def status(trailers, hint: str):
        given_trailers = list(trailers)  # a copy each time: the checker's lists stay as they are
        got = attempt(f"status_of({shown(trailers, 40)})", status_of, given_trailers, hint=hint)
        if given_trailers != list(trailers):
            raise Fail(f"status_of({shown(trailers, 40)}) left the list it was given as {shown(given_trailers, 40)}",
                       "read trailers, and change nothing of it: the list is the caller's (no pop, remove or sort: "
                       "loop over it, or over dict(trailers))")
        return got

    with server_runner.start("users") as users:
        def grpcio_reads_it():
            hint = "the prefix is struct.pack('>BI', flag, len(payload)): '>' is big-endian, I is 4 bytes"
            body = attempt("encode(...)", encode, CARS.SerializeToString(), hint=hint)
            response = wire.call(users.address, request_headers(users.address, "GetUser"), body, timeout=TIMEOUT)
            fields = dict(response.trailers)
            if fields.get("grpc-status") != "0":
                raise Fail(f"grpcio answered grpc-status {fields.get('grpc-status')}: "
                           f"{fields.get('grpc-message', '')[:60]}", hint)
            if b"carol" not in b"".join(response.data):
                raise Fail("grpcio answered OK, but not with carol, the user asked for", hint)

        def empty():
            got = attempt("encode(b'')", encode, b"", hint="an empty payload still gets its prefix")
            if got != b"\x00" * 5:
                raise Fail(f"encode(b'') gave {shown(got)}; expected 5 zero bytes",
                           "an empty message is still a message: its 5-byte prefix says length 0")
            if type(got) is not bytes:
                raise Fail(f"encode gave a {type(got).__name__}; expected bytes",
                           "return bytes: struct.pack(...) + payload is bytes already (a bytearray can be changed "
                           "later, by whoever holds it)")

        def flag():
            hint = "the first byte is 1 when compressed is true, else 0; feed gives it back as a bool"
            plain = attempt("encode(payload)", encode, PAYLOAD, hint=hint)
            squeezed = attempt("encode(payload, compressed=True)", lambda: encode(PAYLOAD, compressed=True),
                               hint=hint + " (the keyword is compressed, as the exercise names it)")
            for truth in (1, 2):
                truthy = attempt(f"encode(payload, compressed={truth})", lambda truth=truth: encode(
                    PAYLOAD, compressed=truth), hint=hint)
                if truthy[:1] != b"\x01":
                    raise Fail(f"encode(payload, compressed={truth}) starts {truthy[:1].hex()}; expected 01",
                               "1 if compressed else 0: any true value means compressed, not only True itself, and "
                               "the flag is 0 or 1, never the value itself (int(compressed) writes 02 for 2)")
            for falsy in (0, None, ""):
                flat = attempt(f"encode(payload, compressed={falsy!r})", lambda falsy=falsy: encode(
                    PAYLOAD, compressed=falsy), hint=hint)
                if flat[:1] != b"\x00":
                    raise Fail(f"encode(payload, compressed={falsy!r}) starts {flat[:1].hex()}; expected 00",
                               "1 if compressed else 0: any false value (0, None too) means not compressed")
            if squeezed[:1] == b"\x01" and squeezed[1:] != plain[1:]:
                raise Fail(f"encode(payload, compressed=True) starts {squeezed[:5].hex(' ')}: 01, and then not the "
                           "same bytes as without it", "the flag only says the payload is compressed: encode writes "
                           "the payload it was given, as it is (whoever compressed it did so before)")
            if squeezed[:1] != b"\x01":
                raise Fail(f"encode(payload, compressed=True) starts {squeezed[:5].hex(' ')}; expected 01 and "
                           "then the same bytes as without it", hint)
            if attempt("encode(b'')", encode, b"", hint=hint) == bytes(5):  # else the empty case judges it
                empty_squeezed = attempt("encode(b'', compressed=True)", lambda: encode(b"", compressed=True),
                                         hint=hint)
                if empty_squeezed != b"\x01" + bytes(4):
                    raise Fail(f"encode(b'', compressed=True) gave {shown(empty_squeezed)}; expected 01 00 00 00 00",
                               "the flag follows compressed alone, whatever the payload: an empty one too")
            got = feed([framed(b"abc", True)], hint) + feed([framed(b"abc")], hint)  # a fresh Decoder each
            flags = [type(message[0]) for messages in got for message in messages]
            payloads = [type(message[1]) for messages in got for message in messages]
            right = got == [[(True, b"abc")], [(False, b"abc")]]
            if right and any(kind is not bytes for kind in payloads):
                raise Fail(f"feed gave payloads of type {payloads[0].__name__}; expected bytes",
                           "give the payload as bytes: bytes(...) of what you cut from the buffer (a bytearray or "
                           "memoryview changes under the caller when the buffer does)")
            if got != [[(True, b"abc")], [(False, b"abc")]] or any(kind is not bool for kind in flags):
                raise Fail(f"feed of a compressed message, then a plain one, gave {shown(got)}; expected "
                           "[[(True, b'abc')], [(False, b'abc')]]", hint)
            empty_flagged = feed([framed(b"", True)], hint)[0]
            if empty_flagged != [(True, b"")] and feed([framed(b"")], hint)[0] == [(False, b"")]:
                raise Fail(f"feed of an empty compressed message gave {shown(empty_flagged)}; expected [(True, b'')]",
                           "the flag is the prefix's first byte, whatever the payload: an empty message has one too")
            gzipped = feed([framed(GZIPPED, True)], hint)[0]
            if gzipped != [(True, GZIPPED)]:
                unzipped = gzipped == [(True, b"zip")]
                raise Fail(f"feed of a compressed message whose payload is gzip's bytes gave {shown(gzipped)}; "
                           f"expected {shown([(True, GZIPPED)])}", DECOMPRESS_HINT if unzipped else hint)
            mixed = [framed(b"zip", True) + framed(b"plain"), framed(b"zip2", True), framed(b"plain2")]
            expected = [[(True, b"zip"), (False, b"plain")], [(True, b"zip2")], [(False, b"plain2")]]
            got = feed(mixed, hint)  # one Decoder: each message's own flag, whatever came before
            if any(compressed != payload.startswith(b"zip") for messages in got for compressed, payload in messages):
                raise Fail(f"one Decoder fed a compressed and a plain message in one chunk, then one of each, gave "
                           f"{shown(got, 90)}; expected {shown(expected, 90)}",
                           "read the flag from each message's own prefix, inside the loop: every message says for "
                           "itself whether it is compressed")

        def several():
            hint = "keep taking messages from the buffer in a loop until too few bytes are left for the next one"
            messages = [b"first", PAYLOAD, b"third"]
            got = feed([b"".join(framed(message) for message in messages)], hint)[0]
            if got == [(False, message) for message in reversed(messages)]:
                raise Fail(f"three messages in one chunk came out last first: {shown(got)}",
                           "give the messages in the order they came: append each to the list as you take it out")
            if got != [(False, message) for message in messages]:
                raise Fail(f"three messages in one chunk gave {len(got)} message(s): {shown(got)}", hint)
            with_empty = [b"", b"a", b"", b"bb"]
            got = feed([b"".join(framed(message) for message in with_empty)], hint)[0]
            if got != [(False, message) for message in with_empty]:
                raise Fail(f"a chunk holding an empty message, b'a', an empty one and b'bb' gave {shown(got, 80)}; "
                           f"expected all four", EMPTY_MESSAGE_HINT + "; then go on with the next")
            stream = b"".join(framed(payload) for payload in THREE)
            ends = [sum(len(framed(payload)) for payload in THREE[:n + 1]) for n in range(len(THREE))]
            inside = [cut for cut in range(1, len(stream))  # inside a payload: "across" judges cuts in a prefix
                      if all(not start <= cut < start + 5 for start in [0, *ends[:-1]])]
            for cut in inside:  # the stream in two chunks, the first ending inside a payload
                got = feed([stream[:cut], stream[cut:]], hint)
                expected = [[(False, p) for p, end in zip(THREE, ends, strict=True) if end <= cut],
                            [(False, p) for p, end in zip(THREE, ends, strict=True) if end > cut]]
                if got != expected:
                    raise Fail(f"three messages in two chunks, cut after byte {cut}, gave {shown(got, 90)}; expected "
                               f"{shown(expected, 90)}", "each feed returns every message its chunk completed: the "
                               "one under way, and every whole one after it, in the same loop")
            fifty = [b"m%d" % number for number in range(50)]
            got = feed([b"".join(framed(message) for message in fifty)], hint)[0]
            if got != [(False, message) for message in fifty]:
                raise Fail(f"fifty messages in one chunk gave {len(got)}", hint + ", however many there are")
            got = feed([framed(b"") * MANY_EMPTY + framed(b"end")], hint)[0]  # 10 KB: less than a DATA frame
            if got != [(False, b"")] * MANY_EMPTY + [(False, b"end")]:
                raise Fail(f"{MANY_EMPTY:,} empty messages in one chunk gave {len(got):,}", hint + ", however many "
                           "there are (a loop, not a call of feed inside feed: Python stops those about 1,000 deep)")

        def own_buffer():
            ours, theirs = framed(b"for the first"), framed(b"for the second")
            first, second = decoder(), decoder()
            feed([ours[:8]], OWN_BUFFER_HINT, into=first)
            feed([theirs[:8]], OWN_BUFFER_HINT, into=second)
            got = [feed([ours[8:]], OWN_BUFFER_HINT, into=first)[0],
                   feed([theirs[8:]], OWN_BUFFER_HINT, into=second)[0]]
            for each in (first, second):  # a buffer they share must not carry this case's bytes into the next
                try:
                    each.finish()
                except Exception:
                    pass
            if got == [[(False, b"for the first")], [(False, b"for the second")]]:
                first, second = decoder(), decoder()  # the first's message cut in two, the second's whole between
                got = [feed([ours[:8]], OWN_BUFFER_HINT, into=first)[0],
                       feed([theirs], OWN_BUFFER_HINT, into=second)[0],
                       feed([ours[8:]], OWN_BUFFER_HINT, into=first)[0]]
                for each in (first, second):
                    try:
                        each.finish()
                    except Exception:
                        pass
                if got != [[], [(False, b"for the second")], [(False, b"for the first")]]:
                    raise Fail(f"a Decoder fed 8 bytes of its message, then a second Decoder a whole one, then the "
                               f"first the rest, gave {shown(got, 90)}", OWN_BUFFER_HINT + " (a prefix read, a "
                               "length or a flag kept on the class is shared too)")
                return
            if got != [[(False, b"for the first")], [(False, b"for the second")]]:
                raise Fail(f"two Decoders, each fed the first 8 bytes of its own message and then the rest, gave "
                           f"{shown(got, 90)}", OWN_BUFFER_HINT if got != [[], []] else
                           "add each chunk to a buffer the Decoder keeps between feeds (self.buffer += data): a "
                           "message cut in two comes in two feeds")

        def split():
            hint = ("add each chunk to a buffer kept between feeds: HTTP/2 may cut a message anywhere, "
                    "even inside its 5-byte prefix")
            whole = framed(PAYLOAD)
            chunks = [whole[i:i + 1] for i in range(len(whole))]
            chunks.insert(3, b"")  # an empty DATA frame: no message completed, so []
            got = feed(chunks, hint)
            del got[3]
            early = next((i for i, messages in enumerate(got[:-1]) if messages), None)
            if early is not None or got[-1] != [(False, PAYLOAD)]:
                without = feed([chunk for chunk in chunks if chunk], hint)
                if not any(without[:-1]) and without[-1] == [(False, PAYLOAD)]:
                    raise Fail(f"fed one byte at a time, with an empty chunk after byte 3, it gave "
                               f"{shown([messages for messages in got if messages])}; without the empty chunk, "
                               "the message at its last byte", "an empty chunk adds nothing: feed(b'') returns [] "
                               "and keeps the buffer as it is (the message under way goes on in the next chunk)")
            if early is not None:
                raise Fail(f"a message came out after {early + 1} of its {len(whole)} bytes: {shown(got[early])}",
                           WHOLE_ONLY_HINT)
            if got[-1] != [(False, PAYLOAD)]:
                raise Fail(f"fed one byte at a time, its last byte gave {shown(got[-1])}; expected the message", hint)

        def across():
            hint = ("after taking a message, keep what is left in the buffer, even a few bytes of the next prefix: "
                    "they are the start of the next message")
            first, second = framed(b"first"), framed(PAYLOAD)
            got = feed([first + second[:3], second[3:]], hint)
            if got != [[(False, b"first")], [(False, PAYLOAD)]]:
                raise Fail(f"a chunk holding a message and 3 bytes of the next prefix, then the rest, gave "
                           f"{shown(got)}; expected the first message, then the second", hint)

        def large():
            hint = "the length takes all 4 bytes, big-endian: struct's 'I' (not 'H', which holds at most 65,535)"
            got = attempt("encode(70,000 bytes)", encode, LARGE, hint=hint)
            if got[:5] != b"\x00\x00\x01\x11\x70":
                raise Fail(f"encode of 70,000 bytes starts {got[:5].hex(' ')}; expected 00 00 01 11 70", hint)
            huge = attempt("encode(16 MiB)", encode, bytes(1 << 24), hint=LIMIT_HINT)
            if huge[:5] != b"\x00\x01\x00\x00\x00":
                raise Fail(f"encode of 16 MiB starts {huge[:5].hex(' ')}; expected 00 01 00 00 00", hint)
            if len(huge) != 5 + (1 << 24):
                raise Fail(f"encode of 16 MiB gave {len(huge):,} bytes; expected the 5-byte prefix and the "
                           f"{1 << 24:,} bytes of the payload", "after the 5-byte prefix comes the whole payload, "
                           "unchanged: return prefix + payload")
            del huge
            if got[5:] != LARGE:
                raise Fail(f"encode of 70,000 bytes gave its prefix, then {len(got) - 5:,} bytes that are not the "
                           "payload", "after the 5-byte prefix comes the whole payload, unchanged: prefix + payload")
            back = feed([framed(LARGE)], hint)[0]
            if back != [(False, LARGE)]:
                sizes = [len(message[1]) for message in back if isinstance(message, tuple)]
                raise Fail(f"feed of a 70,000-byte message gave {len(back)} message(s) of {sizes} bytes",
                           hint if sizes != [len(LARGE)] else "the message came whole, but not as (False, the "
                           "payload's bytes): see the lines above on the flag and the payload's type")
            reader = decoder()
            early = feed([HUGE_PREFIX + b"abc"], LIMIT_HINT, into=reader)[0]
            try:
                reader.finish()  # it must raise; and a buffer shared by mistake must not keep these bytes
            except Exception:
                pass
            if early:
                raise Fail(f"the prefix {HUGE_PREFIX.hex(' ')} says 16,777,216 bytes follow, but 3 bytes gave "
                           f"{shown(early)}", hint)

        def server_stream():
            hint = "feed returns the messages this chunk completed, not every message so far"
            body = framed(users_pb2.UserTypeRequest(user_type=users_pb2.USER_TYPE_NORMAL).SerializeToString())
            response = wire.call(users.address, request_headers(users.address, "GetUsersByType"), body)
            got = feed(response.data, hint)
            names = [[users_pb2.UserResponse.FromString(payload).user.nickname for _, payload in messages]
                     for messages in got]
            if names != [[name] for name in NORMAL_USERS]:
                raise Fail(f"fed the server's {len(response.data)} DATA frames one by one, feed gave {names}; "
                           f"expected {[[name] for name in NORMAL_USERS]}", hint)
            for chunk in (None, ODD_CHUNK):  # a message a feed, then chunks that never end where a message does
                kept = _kept_after_a_long_stream(decoder(), hint, chunk)
                if kept > LONG_STREAM_KEEPS:
                    how = "fed one message at a time" if chunk is None else f"fed in chunks of {chunk:,} bytes"
                    raise Fail(f"after a stream of {LONG_STREAM:,} messages of 1 KB, {how}, the Decoder still held "
                               f"{kept:,} bytes: messages it had given", TRIM_HINT)

        def finish_raises(reader, counts: str, where: str, hint: str) -> None:
            """`reader.finish()` must raise, and its words must hold one of the numbers in `counts`."""
            try:
                reader.finish()
            except NotImplementedError:
                raise Fail("not done yet: finish still raises NotImplementedError",
                           "write it in the exercise cell, run that cell, then run the checker again") from None
            except Exception as error:
                if not re.search(rf"\b({counts})\b", str(error)):
                    said = re.findall(r"\b\d+\b", str(error))
                    what = (f"which says {said[0]}, but {counts.split('|')[0]} bytes are left" if said else
                            "which does not say how many bytes are left")
                    raise Fail(f"the stream ended {where}; finish() raised {type(error).__name__}"
                               f"({shown(str(error))}), {what}", "finish() raised, as it should; let its message "
                               "say how many bytes are left in the buffer (len(self.buffer)), not how many are "
                               "missing" if said else hint) from None
                return
            raise Fail(f"the stream ended {where}, and finish() said nothing", hint)

        def truncated():
            hint = f"in finish(), raise an exception when bytes are left, and say how many (here {TRUNCATED_AT})"
            reader = decoder()
            got = feed([framed(b"whole") + framed(b"x" * 20)[:TRUNCATED_AT]], hint, into=reader)[0]
            if got != [(False, b"whole")]:
                raise Fail(f"feed gave {shown(got)}; expected only the whole message, [(False, b'whole')]",
                           WHOLE_ONLY_HINT if len(got) > 1 and got[0] == (False, b"whole") else hint)
            finish_raises(reader, f"{TRUNCATED_AT}|{25 - TRUNCATED_AT}", "inside a message", hint)
            cut = framed(b"x" * 20)
            keeps = decoder()  # an empty chunk mid-message keeps the buffer (else "split" judges it) ...
            for chunk in (cut[:TRUNCATED_AT], b""):
                attempt("feed(...)", keeps.feed, chunk, hint=hint)
            if attempt("feed(...)", keeps.feed, cut[TRUNCATED_AT:], hint=hint) == [(False, b"x" * 20)]:
                reader = decoder()  # ... so a stream cut short, then the empty DATA frame that ends it
                for chunk in (cut[:TRUNCATED_AT], b""):
                    attempt("feed(...)", reader.feed, chunk, hint=hint)
                finish_raises(reader, f"{TRUNCATED_AT}|{25 - TRUNCATED_AT}", "inside a message (an empty chunk "
                              "last)", "an empty chunk changes nothing of what is left: the bytes left before it "
                              "are left after it, and finish() still raises")

        def truncated_prefix():
            hint = "in finish(), raise whenever bytes are left, even fewer than a prefix (here 3)"
            reader = decoder()
            feed([framed(b"whole") + framed(b"next")[:3]], hint, into=reader)
            finish_raises(reader, "3", "3 bytes into the next message's prefix", hint)
            reader = decoder()
            feed([framed(b"abcdef")[:5]], hint, into=reader)
            finish_raises(reader, "5|6", "right after a whole prefix (5 bytes, its 6-byte payload missing)",
                          "in finish(), raise when any part of a message is left, a prefix whose payload never "
                          "came too (here 5 bytes, wherever you keep them)")

        def truncated_anywhere():
            truncated()
            truncated_prefix()

        def clean_end():
            hint = "finish() raises only when bytes are left; an empty message is 5 bytes and is whole"
            for chunks, expected in (([framed(b"whole")], [[(False, b"whole")]]), ([framed(b"")], [[(False, b"")]]),
                                     ([], [])):
                reader = decoder()
                got = feed(chunks, hint, into=reader)
                if got != expected:
                    raise Fail(f"feed gave {shown(got)}; expected {shown(expected)}",
                               EMPTY_MESSAGE_HINT if expected == [[(False, b"")]] else hint)
                attempt("finish()", getattr(reader, "finish", None), hint=hint)

        def ok():
            got = status(OK_TRAILERS, "take grpc-status and grpc-message from the trailers as they are")
            if got != (0, "") and (not isinstance(got, tuple) or len(got) != 2):
                raise Fail(f"status_of(OK trailers) gave {shown(got)}; expected the tuple (0, '')",
                           "return a tuple of two: (the code as an int, the message as a str)")
            if got != (0, "") and not isinstance(got[0], (int, float)):
                raise Fail(f"status_of(OK trailers) gave the code {got[0]!r}, a {type(got[0]).__name__}; expected "
                           "the int 0", "the code as a plain int: int(dict(trailers)['grpc-status'])")
            if got != (0, ""):
                raise Fail(f"status_of(OK trailers) gave {shown(got)}; expected (0, '')",
                           ZERO_HINT if got[0] == UNKNOWN else
                           "OK is code 0, and its grpc-message is empty: return '' as it is")
            got = status(OK_WITH_MESSAGE, "take grpc-message whatever the code: an OK call may carry one too")
            if got != (0, "served from cache"):
                raise Fail(f"status_of(OK trailers that carry a message) gave {shown(got)}; expected "
                           "(0, 'served from cache')", "take grpc-message whatever the code: an OK call may carry "
                           "one too (context.set_details)")

        def error():
            hint = ("find grpc-status by its name (dict(trailers)), and return int(...): in a trailers-only response "
                    "it comes after :status and content-type")
            got = status(NOT_FOUND, hint)
            if got != (5, "no user has id 999"):
                raise Fail(f"status_of(trailers-only NOT_FOUND) gave {shown(got)}; expected (5, 'no user has id 999')",
                           hint)
            if not isinstance(got[0], int) or isinstance(got[0], bool):  # 5.0 == 5, but a code is a whole number
                raise Fail(f"status_of gave the code as a {type(got[0]).__name__}, {got[0]!r}; expected an int", hint)
            for trailers, where, why in (
                    (NOT_FOUND_IN_FULL, "with trailing metadata and grpc-status-details-bin after it", EXACT_NAME_HINT),
                    (DETAILS_FIRST, "with grpc-status-details-bin before it", EXACT_NAME_HINT),
                    (MESSAGE_FIRST, "grpc-message before grpc-status, as grpcio sends them", ANY_ORDER_HINT)):
                got = status(trailers, why)
                if got != (5, "no user has id 999"):
                    raise Fail(f"status_of(NOT_FOUND, {where}) gave {shown(got)}; expected (5, 'no user has id 999')",
                               why)

        def percent():
            hint = ("urllib.parse.unquote(message), once, and change nothing else: %XX are UTF-8 bytes; '+' is not "
                    "a space here (not unquote_plus)")
            for trailers, text in ((PERCENT, PERCENT_TEXT), (PERCENT_TWICE, PERCENT_TWICE_TEXT),
                                   (PERCENT_SPACES, PERCENT_SPACES_TEXT)):
                got = status(trailers, hint)
                if got != (3, text):
                    raise Fail(f"status_of gave {shown(got, 70)}; expected (3, {text!r})", hint)

        def no_message():
            hint = "grpc-message may be missing: dict(trailers).get('grpc-message', '')"
            for code in (14, 0):
                got = status([("grpc-status", str(code))], hint)
                if got != (code, ""):
                    wrong_code = isinstance(got, tuple) and len(got) == 2 and got[0] != code
                    raise Fail(f"status_of([('grpc-status', '{code}')]) gave {shown(got)}; expected ({code}, '')",
                               ZERO_HINT if wrong_code and code == 0 and got[0] == UNKNOWN else
                               "the code is grpc-status read as a decimal number, all its digits: int(value)"
                               if wrong_code else hint)

        def no_status():
            hint = ("no grpc-status means the call's end was lost: return UNKNOWN (2), with a message that says so "
                    "(missing, lost, not received, none…), whatever grpc-message says; never 0, which would call it "
                    "a success")
            for trailers in ([("content-type", "application/grpc")], [("grpc-message", "Deadline Exceeded")],
                             [(":status", "200"), ("content-type", "application/grpc")], []):
                got = status(trailers, hint)
                if not (isinstance(got, tuple) and len(got) == 2 and got[0] == UNKNOWN and isinstance(got[1], str)
                        and re.search(SAYS_MISSING, got[1], re.IGNORECASE)):
                    raise Fail(f"status_of({shown(trailers, 50)}), with no grpc-status, gave {shown(got)}; expected "
                               "(2, '...') with a message that says the status is missing",
                               "the code as an int: UNKNOWN, the 2 of the exercise cell, not the text '2'"
                               if isinstance(got, tuple) and got[:1] == ("2",) else hint)

        def one_whole_message() -> str | None:
            """What is wrong with feed at its simplest (one plain message, in one chunk), or None."""
            try:
                got = feed([framed(b"abc")], SHAPE_HINT)[0]
            except Fail as failure:
                return failure.got
            return None if got == [(False, b"abc")] else f"it gave {shown(got)}"

        basic = one_whole_message()

        def first_things_first(case):
            """A case of feed's: while feed gets even one whole message wrong, its hint says to fix that first
            (each case's own hint names a finer point, and would send the learner after the wrong cause)."""
            def run():
                try:
                    case()
                except Fail as failure:
                    exact = failure.hint in (RUNAWAY_HINT, SHAPE_HINT, EMPTY_CHUNK_HINT)  # these name the fault
                    if basic is not None and not exact and "not done yet" not in failure.got:
                        raise Fail(failure.got, BASIC_HINT.format(basic)) from None
                    raise
            return run

        cases = {"grpcio reads it": grpcio_reads_it, "empty": empty, "flag": flag, "several": several,
                 "own buffer": own_buffer,
                 "split": split, "across": across, "large": large, "server stream": server_stream,
                 "truncated": truncated_anywhere, "clean end": clean_end,
                 "ok": ok, "error": error, "percent": percent, "no message": no_message, "no status": no_status}
        feeds = {"flag", "several", "own buffer", "split", "across", "server stream", "truncated", "clean end"}
        cases = {name: first_things_first(case) if name in feeds else case for name, case in cases.items()}
        return run_checks("Exercise 10.1 · message framing and status",
                          [(RULES[name], case) for name, case in cases.items()])
