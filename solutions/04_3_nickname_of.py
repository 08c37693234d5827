def nickname_of(stub, user_id):
    """The nickname of the user with this id, or None if no user has it."""
    try:
        reply = stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=1)  # wait 1 second at most
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None  # no such user: an answer, not a failure
        raise  # any other failure (a wrong id, a server gone or too slow) is for the caller to handle
    return reply.user.nickname
