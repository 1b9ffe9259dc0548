#pragma once
// A durable end as JSON, in the one shape the daemons' status files use
// ({"file", "offset", "tid", "commit_us"}); `tranship status` reads it back (cli/status.cc).

#include "base/json.h"
#include "tranlog/types.h"

namespace tranship {

inline void PutDurableEndJson(JsonWriter* j, const DurableEnd& e) {
  j->BeginObject();
  j->Key("file"); j->Uint(e.pos.file_id);
  j->Key("offset"); j->Uint(e.pos.offset);
  j->Key("tid"); j->Uint(e.tid);
  j->Key("commit_us"); j->Uint(e.commit_time_us);
  j->EndObject();
}

}  // namespace tranship
