"""The reference servers the notebooks call: `users` (the four modes) and `chat` (fan-out).

Each module defines `add_to_server(server)`, the shape server_runner expects of any server
module, a learner's included.
"""
