%%writefile my_tokens.py
"""Exercise 13.1: the kit's users service, behind an interceptor that wants a bearer token on every call."""
import grpc

from workshop.interceptors import refusing
from workshop.servers import users
from workshop.tokens import may_call, who_holds


class BearerTokens(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if method.startswith("/grpc.health."):
            return handler  # health checks (the runner's, a load balancer's) carry no token
        credentials = dict(handler_call_details.invocation_metadata).get("authorization", "")
        scheme, _, token = credentials.partition(" ")
        who = who_holds(token) if scheme == "Bearer" else None
        if who is None:  # who is calling is not known
            return refusing(handler, grpc.StatusCode.UNAUTHENTICATED,
                            "this service wants a token: authorization metadata of the form 'Bearer <token>'")
        if not may_call(who, method):  # known, and not allowed
            return refusing(handler, grpc.StatusCode.PERMISSION_DENIED, f"{who} may not call {method}")
        return handler


INTERCEPTORS = [BearerTokens()]


def add_to_server(server):
    users.add_to_server(server)  # the kit's UserManager, over the directory the runner gives it
