"""The server the child process builds around a server module, and what the module may not do itself.

A server module only adds its services (`add_to_server(server)`); the runner builds the server,
binds the one port, adds health and reflection, starts and stops it. A module that binds a port,
starts or stops the server, or creates a gRPC server of its own (as tutorials do with `serve()`
at import) would listen where no one asked, or never let its process go: it is refused with
ServerModuleError, whose message says what to change.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import threading
import traceback
from concurrent import futures
from pathlib import Path

import grpc
import grpc.aio

DEFAULT_WORKERS = 32
# Seconds: with this set, a grpc.aio server's loop runs in asyncio's debug mode and logs ("Executing <Task ...>
# took 0.061 seconds") every step of a call that holds the loop this long (9.1's checker reads them).
SLOW_STEP_SETTING = "WORKSHOP_SLOW_STEP"
# A checker's copy: the interpreter lets threads take turns this often (seconds; Python's default is 0.005), so that
# a race whose gap is a few instructions wide, which the GIL hides, shows in a short run.
SWITCH_SETTING = "WORKSHOP_SWITCH_INTERVAL"
WORKERS_SETTING = "WORKSHOP_WORKERS"  # a checker's copy: this many threads, whatever the module's MAX_WORKERS
# One server per port: without this, Linux lets a second server bind the same port and steal calls.
SERVER_OPTIONS = [("grpc.so_reuseport", 0)]
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
_GRPC_SERVER, _AIO_SERVER = grpc.server, grpc.aio.server  # the runner's own; the module gets refusals

OWN_SERVER = (
    "{where}creates a gRPC server of its own ({call}). server_runner builds, binds and starts the server "
    "for you, and stops it when its notebook stops. To serve this module with server_runner:\n"
    '  1. put the code that starts a server (your serve()) under  if __name__ == "__main__":  '
    "so that importing the module does not run it;\n"
    "  2. define  def add_to_server(server):  that only adds your servicer to `server`, "
    "e.g. users_pb2_grpc.add_UserManagerServicer_to_server(UserManager(), server);\n"
    '  3. let server_runner bind the port: server_runner.start("{file}") picks a free one on 127.0.0.1 '
    '(server_runner.start("{file}", port=50051) asks for that one).')
OWN_PORT = ("{where}calls server.{call} in add_to_server: server_runner binds the port itself, on 127.0.0.1. "
            'Remove that line; to choose the port, start it with server_runner.start("{file}", port={port}).')
OWN_LIFECYCLE = ("{where}calls server.{call} in add_to_server: add_to_server only adds services, and "
                 "server_runner starts and stops the server. Remove that line.")


class ServerModuleError(RuntimeError):
    """A server module did what the runner does for it (bind a port, start a server of its own)."""


class ModuleRules:
    """What the module at `path` may not do, and where in it it tried."""

    def __init__(self, path: str):
        self.path = path

    def refusal(self, template: str, call: str, **details) -> ServerModuleError:
        line = next((frame.lineno for frame in reversed(traceback.extract_stack()) if frame.filename == self.path),
                    None)
        name = Path(self.path).name
        where = f"{name} (line {line}) " if line else f"{name} "
        return ServerModuleError(template.format(where=where, call=call, file=name, **details))

    def refuse_servers_of_its_own(self) -> None:
        """From now on, in this process, grpc.server() and grpc.aio.server() refuse with what to change."""
        def refuse(*_args, **_kwargs):
            raise self.refusal(OWN_SERVER, "grpc.server(...)")

        def refuse_aio(*_args, **_kwargs):
            raise self.refusal(OWN_SERVER, "grpc.aio.server(...)")

        grpc.server, grpc.aio.server = refuse, refuse_aio


class ServiceRecorder:
    """Stands in for the server during `add_to_server`: notes which services are added, refuses the rest."""

    def __init__(self, server, rules: ModuleRules):
        self._server, self._rules, self.names = server, rules, []

    def add_generic_rpc_handlers(self, handlers):
        self.names += [h.service_name() for h in handlers if hasattr(h, "service_name")]
        return self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name, handlers):
        return self._server.add_registered_method_handlers(service_name, handlers)

    def _refuse_port(self, method: str, address, *_):
        shown = repr(address)[:40]
        port = str(address).rsplit(":", 1)[-1]
        raise self._rules.refusal(OWN_PORT, f"{method}({shown})", port=port if port.isdigit() else 50051)

    def add_insecure_port(self, address):
        self._refuse_port("add_insecure_port", address)

    def add_secure_port(self, address, credentials):
        self._refuse_port("add_secure_port", address)

    def _refuse(self, method: str):
        raise self._rules.refusal(OWN_LIFECYCLE, f"{method}()")

    def start(self, *_):
        self._refuse("start")

    def stop(self, *_):
        self._refuse("stop")

    def wait_for_termination(self, *_):
        self._refuse("wait_for_termination")

    def __getattr__(self, attribute):
        return getattr(self._server, attribute)


def add_health_and_reflection(server, service_names, health_servicer) -> None:
    """Health, and reflection in both versions: grpcurl and newer clients ask for v1 first, older ones for v1alpha.

    grpcio-reflection serves only v1alpha. v1 is the same protocol under a new package name (its messages are
    v1alpha's, field for field), so the library's servicer answers it too, on v1's method path; grpclib ships
    v1's descriptors, imported so that reflection can describe v1 as it describes every other service.
    """
    import grpclib.reflection.v1.reflection_pb2  # noqa: F401 (it registers grpc/reflection/v1/reflection.proto)
    from grpc_health.v1 import health, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1]
    kind = reflection.aio.ReflectionServicer if isinstance(server, grpc.aio.Server) else reflection.ReflectionServicer
    servicer = kind(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(REFLECTION_V1, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo, request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)}),))


def tls_of(module) -> tuple[grpc.ServerCredentials, str] | None:
    """SERVER_CREDENTIALS and ROOT_CERTIFICATES: a module that sets them is served over TLS only.

    ROOT_CERTIFICATES (the PEM of the authority that signed the server's certificate) is what the
    runner's health checks and server.channel() trust; the certificate must name 127.0.0.1.
    """
    credentials, roots = getattr(module, "SERVER_CREDENTIALS", None), getattr(module, "ROOT_CERTIFICATES", None)
    if credentials is None and roots is None:
        return None
    if not isinstance(credentials, grpc.ServerCredentials) or not isinstance(roots, (bytes, str)) or not roots:
        raise ServerModuleError("a module served over TLS sets both SERVER_CREDENTIALS = grpc.ssl_server_"
                                "credentials([(key, certificate)]) and ROOT_CERTIFICATES = the PEM of the authority "
                                "that signed the certificate (the runner's health checks and server.channel() "
                                "trust it)")
    return credentials, roots.decode() if isinstance(roots, bytes) else roots


def bind(server, host: str, port: int, module) -> tuple[int, str]:
    """Listen on host:port, over TLS if `module` asks for it: (the port bound, the PEM clients trust, or "")."""
    tls = tls_of(module)
    credentials, roots = tls if tls else (None, "")
    try:
        address = f"{host}:{port}"
        bound = (server.add_secure_port(address, credentials) if credentials is not None
                 else server.add_insecure_port(address))
    except RuntimeError:  # newer grpcio raises where older ones returned 0
        bound = 0
    if bound == 0:
        raise OSError(f"could not listen on {host[:60]}:{port} (is the port taken, or the host not this machine's?)")
    return bound, roots


def _whole_number(module, setting: str, default: int | None) -> int | None:
    value = getattr(module, setting, default)
    if value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ServerModuleError(f"{setting} must be a whole number, 1 or more (it is {value!r:.20})")
    return value


def workers_of(module) -> int:
    """MAX_WORKERS: the thread pool's size (a sync server holds one thread per call in flight). A checker's
    copy may set it from outside (WORKERS_SETTING), to need fewer calls to fill the pool."""
    if given := os.environ.get(WORKERS_SETTING):
        return int(given)
    return _whole_number(module, "MAX_WORKERS", DEFAULT_WORKERS)


def concurrency_of(module) -> int | None:
    """MAX_CONCURRENT_RPCS: past this many calls at once, the next one gets RESOURCE_EXHAUSTED at once
    instead of waiting in a queue (grpc.server's maximum_concurrent_rpcs); None: no limit."""
    return _whole_number(module, "MAX_CONCURRENT_RPCS", None)


def interceptors_of(module, kind: type) -> list:
    """INTERCEPTORS: server interceptors (instances of `kind`), applied to every call in the order listed,
    the runner's health checks included."""
    interceptors = getattr(module, "INTERCEPTORS", [])
    if not isinstance(interceptors, (list, tuple)) or not all(isinstance(i, kind) for i in interceptors):
        wanted = f"{kind.__module__}.{kind.__qualname__}"
        raise ServerModuleError(f"INTERCEPTORS must be a list of {wanted} instances, e.g. INTERCEPTORS = "
                                f"[RequestIds()] (it is {interceptors!r:.60})")
    aio = kind is grpc.aio.ServerInterceptor
    for interceptor in interceptors:
        if inspect.iscoroutinefunction(interceptor.intercept_service) != aio:
            raise ServerModuleError(
                f"{type(interceptor).__name__}.intercept_service is {'a plain def' if aio else 'an async def'}: "
                + ("on grpc.aio (ASYNCIO = True) it is `async def` and awaits continuation(...)" if aio else
                   "on a thread-pool server it is a plain `def` (async def is for grpc.aio.ServerInterceptor, "
                   "with ASYNCIO = True)"))
    return list(interceptors)


def options_of(module) -> list[tuple[str, object]]:
    """OPTIONS: channel arguments for the server, e.g. [("grpc.max_receive_message_length", 8 * 1024 * 1024)],
    after the runner's own; SO_REUSEPORT stays off."""
    options = getattr(module, "OPTIONS", [])
    if not isinstance(options, (list, tuple)) or not all(
            isinstance(o, tuple) and len(o) == 2 and isinstance(o[0], str) for o in options):
        raise ServerModuleError(f'OPTIONS must be a list of (name, value) pairs, e.g. [("grpc.max_receive_message_'
                                f'length", 8388608)] (it is {options!r:.60})')
    if any(name == "grpc.so_reuseport" for name, _ in options):
        raise ServerModuleError("OPTIONS may not set grpc.so_reuseport: the runner keeps it off, so that no "
                                "second server can share the port and take its calls")
    return [*SERVER_OPTIONS, *options]


class ThreadedServer:
    """A classic grpc.server: one worker thread per call in flight, streams included."""

    asyncio = False

    def __init__(self, module, rules: ModuleRules, host: str, port: int):
        from grpc_health.v1 import health

        self.workers = workers_of(module)
        self.server = _GRPC_SERVER(futures.ThreadPoolExecutor(max_workers=self.workers), options=options_of(module),
                                   interceptors=interceptors_of(module, grpc.ServerInterceptor),
                                   maximum_concurrent_rpcs=concurrency_of(module))
        recorder = ServiceRecorder(self.server, rules)
        module.add_to_server(recorder)
        self.services = recorder.names
        self.health = health.HealthServicer()
        add_health_and_reflection(self.server, self.services, self.health)
        self.port, self.root_certificates = bind(self.server, host, port, module)

    def start(self) -> int:
        from grpc_health.v1 import health_pb2

        self.server.start()
        for service in ["", *self.services]:
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    def set_serving(self, serving: bool) -> None:
        """Health says SERVING, or NOT_SERVING (maintenance: load balancers send calls elsewhere), for all."""
        from grpc_health.v1 import health_pb2

        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ["", *self.services]:
            self.health.set(service, status)

    def stop(self, grace: float) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


class AsyncioServer:
    """A grpc.aio server on an event loop in its own thread, so the main thread stays free to stop it."""

    asyncio = True
    workers = None

    def __init__(self, module, rules: ModuleRules, host: str, port: int):
        self.module, self.rules, self.host, self.port = module, rules, host, port
        self.loop = asyncio.new_event_loop()
        if slow := os.environ.get(SLOW_STEP_SETTING):  # a checker's copy: every step this slow is logged
            self.loop.set_debug(True)
            self.loop.slow_callback_duration = float(slow)
        threading.Thread(target=self.loop.run_forever, name="asyncio-server", daemon=True).start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _start(self) -> int:
        from grpc_health.v1 import health, health_pb2

        self.server = _AIO_SERVER(options=options_of(self.module), maximum_concurrent_rpcs=concurrency_of(self.module),
                                  interceptors=interceptors_of(self.module, grpc.aio.ServerInterceptor))
        recorder = ServiceRecorder(self.server, self.rules)
        result = self.module.add_to_server(recorder)
        if hasattr(result, "__await__"):
            await result
        self.services = recorder.names
        self.health = health.aio.HealthServicer()
        add_health_and_reflection(self.server, self.services, self.health)
        port, self.root_certificates = bind(self.server, self.host, self.port, self.module)
        await self.server.start()
        for service in ["", *self.services]:
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        return port

    def start(self) -> int:
        return self._run(self._start())

    async def _stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    async def _set_serving(self, serving: bool) -> None:
        from grpc_health.v1 import health_pb2

        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ["", *self.services]:
            await self.health.set(service, status)

    def set_serving(self, serving: bool) -> None:
        self._run(self._set_serving(serving))

    def stop(self, grace: float) -> None:
        """Blocks for ever if a handler froze the loop; the child's watchdog bounds that."""
        self._run(self._stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)


def build(module, rules: ModuleRules, host: str, port: int):
    """The server for `module`: grpclib's with GRPCLIB = True, grpc.aio's with ASYNCIO = True, else threads."""
    if getattr(module, "GRPCLIB", False):
        from workshop.runner.grpclib_serving import GrpclibServer

        return GrpclibServer(module, host, port)
    kind = AsyncioServer if getattr(module, "ASYNCIO", False) else ThreadedServer
    return kind(module, rules, host, port)
