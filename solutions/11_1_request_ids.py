%%writefile my_request_ids.py
"""Exercise 11.1: the kit's users service, behind an interceptor that wants a request id on every call."""
import grpc

from workshop.interceptors import refusing
from workshop.servers import users

HEADER = "x-request-id"
LONGEST = 64  # characters: an id is a short token, never a place to send anything else


class RequestIds(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler_call_details.method.startswith("/grpc.health."):
            return handler  # health checks (the runner's, a load balancer's) carry no id of ours
        request_id = dict(handler_call_details.invocation_metadata).get(HEADER, "")
        if not request_id or len(request_id) > LONGEST:
            return refusing(handler, grpc.StatusCode.INVALID_ARGUMENT,
                            f"every call needs {HEADER} metadata of 1 to {LONGEST} characters")
        print(f"{handler_call_details.method} {HEADER}={request_id}", flush=True)
        return handler


INTERCEPTORS = [RequestIds()]


def add_to_server(server):
    users.add_to_server(server)  # the kit's UserManager, over the directory the runner gives it
