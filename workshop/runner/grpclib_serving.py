"""A grpclib server around a server module, so that server_runner serves grpclib as it serves grpcio.

A module with `GRPCLIB = True` defines `add_to_server(server)` that calls `server.add(servicer)`
for each grpclib servicer (a subclass of a generated `...Base`). The runner builds grpclib's
`Server` on an event loop in its own thread, adds grpclib's own health and reflection services
(the health check that server_runner.start waits for is the standard one, whichever library
answers it), binds the one port itself, and stops it like any other server: the child's
watchdog bounds a stop that a frozen loop never finishes.

grpclib's health and reflection modules register the same protobuf types as grpcio's, so this
process imports only grpclib's.
"""
from __future__ import annotations

import asyncio
import socket
import threading


class ServicerCollector:
    """What `add_to_server` gets: `add(servicer)` notes one grpclib servicer."""

    def __init__(self):
        self.servicers: list = []

    def add(self, servicer) -> None:
        if not callable(getattr(servicer, "__mapping__", None)):
            raise TypeError(f"{type(servicer).__name__} is not a grpclib servicer: subclass the generated "
                            "...Base class (from workshop.protos import users_grpc; users_grpc.UserManagerBase)")
        self.servicers.append(servicer)


def _service_names(servicer) -> list[str]:
    """'/users.v1.UserManager/GetUser' → 'users.v1.UserManager', for each method of the servicer."""
    return sorted({path.split("/")[1] for path in servicer.__mapping__()})


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: one the system picks), without SO_REUSEPORT."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
        listener = socket.socket(family, kind, protocol)
        listener.bind(address)
    except OSError:
        raise OSError(f"could not listen on {host[:60]}:{port} (is the port taken, or the host not this "
                      "machine's?)") from None
    return listener


class GrpclibServer:
    """grpclib's Server on an event loop in its own thread, so the main thread stays free to stop it."""

    asyncio = True
    workers = None

    def __init__(self, module, host: str, port: int):
        from workshop.runner.serving import ServerModuleError

        for setting in ("INTERCEPTORS", "OPTIONS"):
            if hasattr(module, setting):
                raise ServerModuleError(f"{setting} is for grpcio servers; grpclib has no server interceptors or "
                                        "channel arguments (its middleware are event listeners: grpclib.events)")
        if hasattr(module, "SERVER_CREDENTIALS") or hasattr(module, "ROOT_CERTIFICATES"):
            raise ServerModuleError("SERVER_CREDENTIALS and ROOT_CERTIFICATES are for grpcio servers; the runner "
                                    "serves grpclib modules without TLS")
        self.module, self.host, self.port = module, host, port
        self.root_certificates = ""
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="grpclib-server", daemon=True).start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _start(self) -> int:
        from grpclib.health.service import Health
        from grpclib.reflection.service import ServerReflection
        from grpclib.server import Server

        collector = ServicerCollector()
        self.module.add_to_server(collector)
        if not collector.servicers:
            raise TypeError("add_to_server added no servicer: call server.add(YourServicer()) in it")
        self.services = [name for servicer in collector.servicers for name in _service_names(servicer)]
        from grpclib.health.check import ServiceStatus

        self.status = ServiceStatus()  # one status for all its services: SERVING, until set_serving says not
        self.status.set(True)
        health = Health({servicer: [self.status] for servicer in collector.servicers})
        self.server = Server(ServerReflection.extend([*collector.servicers, health]))
        listener = listening_socket(self.host, self.port)
        bound = listener.getsockname()[1]
        await self.server.start(sock=listener)
        return bound

    def start(self) -> int:
        return self._run(self._start())

    def set_serving(self, serving: bool) -> None:
        self.loop.call_soon_threadsafe(self.status.set, serving)

    async def _stop(self, grace: float) -> None:
        self.server.close()
        try:
            await asyncio.wait_for(self.server.wait_closed(), grace)
        except asyncio.TimeoutError:  # calls still running after the grace: the process ends anyway
            pass

    def stop(self, grace: float) -> None:
        """Blocks for ever if a handler froze the loop; the child's watchdog bounds that."""
        self._run(self._stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)
