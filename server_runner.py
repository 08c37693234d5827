"""Start, watch and stop gRPC servers in background processes, from a notebook or a terminal.

A notebook must never block on `server.wait_for_termination()`, and a server must never outlive
the kernel that started it. So each server runs in its own process (started with
`sys.executable`, never forked: fork after grpc is imported can hang), listens on 127.0.0.1 on a
port the OS picks, and dies with its parent however the parent dies and whatever its code does.

Python:
    import server_runner
    users = server_runner.start("users")          # a reference server, or "my_server.py"
    users.address, users.logs(), users.stop()     # or: with server_runner.start("chat") as chat: ...
    server_runner.list_servers()                  # every running server of the kit, as ServerEntry records

Terminal:
    python server_runner.py serve users           # in the foreground until Ctrl+C
    python server_runner.py list | logs NAME | stop NAME | stop --all
    python server_runner.py room                  # instructors: the chat, open to the room's network

A target is a reference server name (see REFERENCE_SERVERS) or the path of a module that defines
`add_to_server(server)` (and `ASYNCIO = True` if its servicers are `async def`, `GRPCLIB = True` if
they are grpclib's, `MAX_WORKERS` for the size of a thread pool, `INTERCEPTORS` and `OPTIONS` for a
grpcio server's interceptors and channel arguments). The runner builds the server, binds
the port, adds the standard health and reflection services, and reports the bound port. The code
lives in `workshop/runner/`.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workshop.runner.addresses import DEFAULT_HOST, OPEN_WARNING  # noqa: E402
from workshop.runner.cli import main  # noqa: E402
from workshop.runner.handle import (  # noqa: E402
    REFERENCE_SERVERS,
    RunningServer,
    ServerNotRunningError,
    ServerStartError,
    start,
    stop_all,
)
from workshop.runner.registry import KEPT_LOGS, ServerEntry, list_servers, state_dir  # noqa: E402
from workshop.runner.serving import DEFAULT_WORKERS, SERVER_OPTIONS, ServerModuleError  # noqa: E402

__all__ = ["DEFAULT_HOST", "DEFAULT_WORKERS", "KEPT_LOGS", "OPEN_WARNING", "REFERENCE_SERVERS", "SERVER_OPTIONS",
           "RunningServer", "ServerEntry", "ServerModuleError", "ServerNotRunningError", "ServerStartError",
           "list_servers", "main", "start", "state_dir", "stop_all"]

if __name__ == "__main__":
    sys.exit(main())
