%%writefile my_contracts/users.proto
// The kit's protos/users.proto, with most comments left out.
syntax = "proto3";

package users.v1;

enum UserType {
  USER_TYPE_UNSPECIFIED = 0;
  USER_TYPE_NORMAL = 1;
  USER_TYPE_ADMINISTRATOR = 2;
  USER_TYPE_GUEST = 3;
  USER_TYPE_DISABLED = 4;
}

message User {
  int64 id = 1;
  string nickname = 2;
  string mail_address = 3;
  UserType user_type = 4;
}

message UserRequest { int64 id = 1; }
message UserResponse { User user = 1; }
message UserTypeRequest { UserType user_type = 1; }
message UserCountResponse { int64 count = 1; }

service UserManager {
  rpc GetUser(UserRequest) returns (UserResponse);
  rpc AddUser(User) returns (UserResponse);
  rpc CountAlreadyUsers(stream UserRequest) returns (UserCountResponse);
  rpc GetUsersByType(UserTypeRequest) returns (stream UserResponse);
  rpc GetUsersByIds(stream UserRequest) returns (stream UserResponse);
  // Unary: removes the user with this id and returns it. NOT_FOUND if there is none.
  rpc DeleteUser(UserRequest) returns (UserResponse);
}
