async def count_known(stub, ids):
    """How many of `ids` are users: one CountAlreadyUsers call on a grpclib stub."""
    async with stub.CountAlreadyUsers.open(timeout=1) as stream:  # the whole call: 1 second at most
        await stream.send_request()  # the call's headers: the call is made even when no id follows
        for user_id in ids:
            await stream.send_message(users_pb2.UserRequest(id=user_id))
        await stream.end()  # "that was all": only now does the server count
        reply = await stream.recv_message()
    return reply.count
