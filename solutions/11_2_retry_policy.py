# Exercise 11.2: the service config every client of the users service gets
READS = [{"service": "users.v1.UserManager", "method": method} for method in ("GetUser", "GetUsersByType")]
USERS_SERVICE_CONFIG = {
    "methodConfig": [{
        "name": READS,  # reads only: AddUser, a write, gets no retryPolicy
        "retryPolicy": {
            "maxAttempts": 3,  # in all: the first attempt and two retries
            "initialBackoff": "0.1s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],  # the call never reached the service
        },
    }],
    "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},  # when most calls fail, stop retrying
}
