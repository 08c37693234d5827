"""RunningServer.set_serving: a server down for maintenance and back, as its health service tells it.

For each kind of server the runner builds (grpcio threads, grpc.aio, grpclib): Check answers the new
status for the server and for its service, Watch streams every change, and calls are still served.
"""
import queue
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import server_runner

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
KINDS = {"users": "users.v1.UserManager", "chat": "chat.v1.ChatServer",
         "users_grpclib": "users.v1.UserManager"}


def watched(channel, service: str, seen: queue.Queue) -> grpc.Future:
    """A Watch of `service` whose every status goes into `seen`; cancel the returned call to end it."""
    call = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=service), timeout=30)

    def read():
        try:
            for reply in call:
                seen.put(reply.status)
        except grpc.RpcError:
            pass
    threading.Thread(target=read, daemon=True).start()
    return call


def statuses(seen: queue.Queue, count: int) -> list:
    return [seen.get(timeout=10) for _ in range(count)]


@pytest.mark.parametrize("target", KINDS)
def test_maintenance_and_back_is_seen_by_check_and_watch(target):
    service = KINDS[target]
    with server_runner.start(target) as server, server.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        seen: queue.Queue = queue.Queue()
        call = watched(channel, service, seen)
        assert statuses(seen, 1) == [SERVING]
        server.set_serving(False)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == NOT_SERVING
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == NOT_SERVING
        assert statuses(seen, 1) == [NOT_SERVING]
        server.set_serving(True)
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == SERVING
        assert statuses(seen, 1) == [SERVING]
        call.cancel()
        assert "health: NOT_SERVING (maintenance)" in server.logs()


def test_a_server_down_for_maintenance_still_answers_calls():
    from workshop.protos import users_pb2, users_pb2_grpc

    with server_runner.start("users") as server, server.channel() as channel:
        server.set_serving(False)
        reply = users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=5)
        assert reply.user.nickname == "alice"


def test_set_serving_on_a_stopped_server_says_so():
    server = server_runner.start("users")
    server.stop()
    with pytest.raises(server_runner.ServerNotRunningError, match="not running"):
        server.set_serving(False)
