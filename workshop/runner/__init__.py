"""The server runner behind `server_runner.py`, one module per job.

- `registry`: the typed entry each running server writes, and the logs;
- `addresses`: which hosts and ports are accepted, and which open a server to the network;
- `handle`: start() in a background process, the RunningServer it returns, a bounded stop;
- `child`: the server's own process, which goes away when told or when its parent dies;
- `serving`: the grpc server it builds around a module, and what a module may not do itself;
- `cli`: `python server_runner.py serve|list|logs|stop|room`.
"""
