// tranship workload NAME ... | --check FILE: the flags, checked and turned into the
// options of the load generator (workload/workload.h).

#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "workload/workload.h"

namespace tranship::cli {

Status WorkloadCommand(Context& ctx, const Args& args) {
  workload::WorkloadOptions o;
  o.stone = args.positional[0];
  TRANSHIP_RETURN_IF_ERROR(ctx.home.RequireStone(o.stone));
  if (std::string p = args.Value("--key-prefix"); !p.empty()) o.key_prefix = std::move(p);
  if (args.Has("--check")) {
    Result<uint64_t> keys = args.Number("--keys-per-txn", 3);
    if (!keys.ok()) return keys.status();
    o.keys_per_txn = *keys;
    o.check = args.Value("--check");
    return workload::CheckWorkload(ctx.home, o);
  }
  Result<uint64_t> writers = args.Number("--writers", 4);
  Result<uint64_t> total = args.Number("--transactions", 1000);
  Result<uint64_t> seconds = args.Number("--seconds", 0);
  Result<uint64_t> keys = args.Number("--keys-per-txn", 3);
  for (const auto* r : {&writers, &total, &seconds, &keys}) {
    if (!r->ok()) return r->status();
  }
  if (*writers == 0 || *writers > 256 || *keys == 0) {
    return Status::InvalidArgument("--writers must be 1 to 256 and --keys-per-txn at least 1");
  }
  o.writers = *writers;
  o.transactions = *total;
  o.seconds = *seconds;
  o.keys_per_txn = *keys;
  o.until_deadline = *seconds != 0 && !args.Has("--transactions");
  o.ack_log = args.Value("--ack-log");
  if (std::string v = args.Value("--visible-on"); !v.empty()) {
    o.visible_on.emplace();
    std::stringstream list(v);
    for (std::string path; std::getline(list, path, ',');) {
      if (!path.empty()) o.visible_on->push_back(path);
    }
  }
  return workload::RunWorkload(ctx.home, o);
}

}  // namespace tranship::cli
