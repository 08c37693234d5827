# Exercise 12.1: a service's methods, from what reflection alone tells
MODES = {(False, False): "unary", (False, True): "server streaming", (True, False): "client streaming",
         (True, True): "bidirectional"}


def method_table(explorer, service: str) -> list[tuple[str, str, str, str]]:
    """(method, request type, response type, mode) for each method of `service`, in the contract's order."""
    if service not in explorer.services():  # its file may declare it, and still the server does not serve it
        raise KeyError(f"the server does not serve {service}")
    return [(method.name, method.input_type.full_name, method.output_type.full_name,
             MODES[method.client_streaming, method.server_streaming])
            for method in explorer.service(service).methods]
