%%writefile my_talk.proto
syntax = "proto3";

package conference.v1;

import "google/protobuf/timestamp.proto";

// How much a listener should already know. Zero means "not set".
enum Level {
  LEVEL_UNSPECIFIED = 0;
  LEVEL_BEGINNER = 1;
  LEVEL_INTERMEDIATE = 2;
  LEVEL_ADVANCED = 3;
}

// One talk in the conference schedule.
message Talk {
  int64 id = 1;
  string title = 2;
  repeated string speakers = 3;
  Level level = 4;
  google.protobuf.Timestamp starts_at = 5;
}
