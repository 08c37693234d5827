"""Measures the reference chat server: idle CPU, how many subscribers it serves, fan-out latency.

Run by hand (it is not a test; the numbers depend on the machine):

    .venv/bin/python benchmarks/chat_benchmark.py

It starts the chat server with server_runner, like the notebooks do, and drives it from one
asyncio client process on loopback, at most 100 streams per connection.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import grpc
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import server_runner
from workshop.protos import chat_pb2, chat_pb2_grpc

STREAMS_PER_CONNECTION = 100


class Audience:
    """`count` subscribers over as few connections as the per-connection limit allows.

    They join a hundred at a time, as a room fills: a single client process that opens thousands
    of streams in one burst sees some of them CANCELLED on its own side.
    """

    def __init__(self, address: str, count: int):
        self.address, self.count = address, count
        connections = max(1, math.ceil(count / STREAMS_PER_CONNECTION))
        self.channels = [grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
                         for _ in range(connections)]  # one TCP connection each
        self.calls = []

    async def joined(self) -> None:
        for first in range(0, self.count, STREAMS_PER_CONNECTION):
            stub = chat_pb2_grpc.ChatServerStub(self.channels[first // STREAMS_PER_CONNECTION])
            batch = [stub.Subscribe(chat_pb2.SubscribeRequest(name=f"listener{first + i}"))
                     for i in range(min(STREAMS_PER_CONNECTION, self.count - first))]
            self.calls += batch
            await asyncio.gather(*(call.wait_for_connection() for call in batch))

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        await asyncio.gather(*(channel.close() for channel in self.channels))


async def idle_cpu(address: str, pid: int, count: int, seconds: float) -> float:
    """Percent of one core the server uses while `count` subscribers wait and nobody posts."""
    audience = Audience(address, count)
    await audience.joined()
    await asyncio.sleep(1)  # let start-up work settle
    server = psutil.Process(pid)
    before = server.cpu_times()
    await asyncio.sleep(seconds)
    after = server.cpu_times()
    await audience.close()
    return 100 * ((after.user - before.user) + (after.system - before.system)) / seconds


async def everyone_receives(address: str, count: int, timeout: float = 10) -> bool:
    audience = Audience(address, count)
    try:
        await asyncio.wait_for(audience.joined(), 6 * timeout)
        async with grpc.aio.insecure_channel(address) as channel:
            await chat_pb2_grpc.ChatServerStub(channel).Post(
                chat_pb2.Note(name="bench", message=f"to all {count}"), timeout=timeout)
        notes = await asyncio.wait_for(asyncio.gather(*(call.read() for call in audience.calls)), timeout)
        return all(note.message == f"to all {count}" for note in notes)
    except (asyncio.TimeoutError, grpc.aio.AioRpcError):
        return False
    finally:
        await audience.close()


async def fan_out_latency(address: str, count: int, messages: int) -> list[float]:
    """Milliseconds from just before Post is sent to each subscriber's receipt, for every message."""
    audience = Audience(address, count)
    await audience.joined()
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def listen(call):
        for _ in range(messages):
            note = await call.read()
            latencies.append((time.perf_counter() - sent[note.message]) * 1000)

    listeners = [asyncio.ensure_future(listen(call)) for call in audience.calls]
    async with grpc.aio.insecure_channel(address) as channel:
        stub = chat_pb2_grpc.ChatServerStub(channel)
        for n in range(messages):
            text = f"ping {n}"
            sent[text] = time.perf_counter()
            await stub.Post(chat_pb2.Note(name="bench", message=text), timeout=10)
            await asyncio.sleep(0.01)  # spaced out, as people type
    await asyncio.wait_for(asyncio.gather(*listeners), 30)
    await audience.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def main(args) -> None:
    print(f"machine: {psutil.cpu_count()} cores, Python {platform.python_version()}, grpcio {grpc.__version__}")
    started = time.perf_counter()
    with server_runner.start("chat") as chat:
        print(f"server_runner.start('chat') to SERVING: {(time.perf_counter() - started) * 1000:.0f} ms\n")
        print("Server CPU while subscribers wait (no posts):")
        for count in (0, 10, 50):
            cpu = await idle_cpu(chat.address, chat.pid, count, args.idle_seconds)
            print(f"  {count:>4} idle subscribers: {cpu:5.2f} % of one core")

        print("\nSubscribers that all receive one post:")
        largest = 0
        for count in args.levels:
            ok = await everyone_receives(chat.address, count)
            print(f"  {count:>5}: {'all received' if ok else 'FAILED'}")
            if not ok:
                break
            largest = count
        print(f"  largest level passed: {largest}")

        print(f"\nFan-out latency, post to receipt ({args.messages} posts):")
        for count in (1, 10, 100):
            samples = await fan_out_latency(chat.address, count, args.messages)
            print(f"  {count:>4} subscribers: p50 {statistics.median(samples):6.2f} ms   "
                  f"p99 {percentile(samples, 0.99):6.2f} ms   ({len(samples)} samples)")


def start_to_serving(runs: int) -> None:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        server = server_runner.start("users")
        durations.append(time.perf_counter() - started)
        server.stop()
    print(f"server_runner.start('users') to SERVING, {runs} runs: median {statistics.median(durations) * 1000:.0f} ms, "
          f"max {max(durations) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle-seconds", type=float, default=5)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--levels", type=int, nargs="+", default=[100, 250, 500, 1000, 2000, 3000])
    parser.add_argument("--start-runs", type=int, default=10)
    arguments = parser.parse_args()
    start_to_serving(arguments.start_runs)
    asyncio.run(main(arguments))
