// tranship failover --planned | --emergency: the flags, checked and turned into the
// options of the failover procedures (failover/failover.h), which run the steps.

#include <string>
#include <vector>

#include "cli/commands.h"
#include "failover/failover.h"

namespace tranship::cli {
namespace {

using failover::FailoverOptions;
using failover::ParseStoneRef;
using failover::StoneRef;

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// --primary HOME:STONE and --standby HOME:STONE (both required), --other-standby LIST.
Status ParsePlannedStones(const Home& current, const Args& args, FailoverOptions* o) {
  if (!args.Has("--primary") || !args.Has("--standby")) {
    return Status::InvalidArgument(
        "failover --planned needs --primary HOME:STONE and --standby HOME:STONE");
  }
  Result<StoneRef> primary = ParseStoneRef("--primary", args.Value("--primary"), current);
  if (!primary.ok()) return primary.status();
  Result<StoneRef> standby = ParseStoneRef("--standby", args.Value("--standby"), current);
  if (!standby.ok()) return standby.status();
  for (const std::string& spec : SplitComma(args.Value("--other-standby"))) {
    Result<StoneRef> r = ParseStoneRef("--other-standby", spec, current);
    if (!r.ok()) return r.status();
    o->other_standbys.push_back(std::move(*r));
  }
  o->primary = std::move(*primary);
  o->standby = std::move(*standby);
  return Status::OK();
}

// --standby HOME:STONE (required), --primary HOME:STONE, --primary-tranlogs DIR; the old
// primary's last tranlog is shown as `tranship tranlog info` shows it.
Status ParseEmergencyStones(Context& ctx, const Args& args, FailoverOptions* o) {
  if (!args.Has("--standby")) {
    return Status::InvalidArgument("failover --emergency needs --standby HOME:STONE");
  }
  Result<StoneRef> standby = ParseStoneRef("--standby", args.Value("--standby"), ctx.home);
  if (!standby.ok()) return standby.status();
  if (args.Has("--primary")) {
    Result<StoneRef> r = ParseStoneRef("--primary", args.Value("--primary"), ctx.home);
    if (!r.ok()) return r.status();
    o->primary = std::move(*r);
  }
  o->standby = std::move(*standby);
  if (args.Has("--primary-tranlogs")) o->primary_tranlogs = args.Value("--primary-tranlogs");
  o->print_tranlog_info = [&ctx](const std::string& path) {
    Args info_args;
    info_args.positional = {path};
    (void)TranlogInfo(ctx, info_args);
  };
  return Status::OK();
}

}  // namespace

Status FailoverCommand(Context& ctx, const Args& args) {
  bool planned = args.Has("--planned"), emergency = args.Has("--emergency");
  if (planned == emergency) {
    return Status::InvalidArgument(
        "failover needs exactly one of --planned and --emergency. Usage: tranship help failover");
  }
  FailoverOptions o;
  Result<uint64_t> timeout = args.Number("--timeout", FailoverOptions::kDefaultTimeoutS);
  if (!timeout.ok()) return timeout.status();
  if (*timeout == 0 || *timeout > 86400) {
    return Status::InvalidArgument("--timeout takes seconds from 1 to 86400");
  }
  o.timeout_s = static_cast<int>(*timeout);
  Result<uint64_t> port = args.Number("--receiver-port", 0);
  if (!port.ok()) return port.status();
  if (*port > 65535) return Status::InvalidArgument("--receiver-port takes a TCP port");
  o.receiver_port = *port;
  o.probe_key = args.Value("--probe-key");
  o.accept_gap = args.Has("--accept-gap");
  if (planned && (o.accept_gap || args.Has("--primary-tranlogs"))) {
    return Status::InvalidArgument(
        "--accept-gap and --primary-tranlogs belong to --emergency; a planned failover has "
        "no gap and loses nothing");
  }
  if (emergency && args.Has("--other-standby")) {
    return Status::InvalidArgument(
        "--other-standby belongs to --planned: after an emergency failover the other "
        "standbys are reseeded from a backup of the new primary");
  }
  if (planned) {
    TRANSHIP_RETURN_IF_ERROR(ParsePlannedStones(ctx.home, args, &o));
    return failover::PlannedFailover(o);
  }
  TRANSHIP_RETURN_IF_ERROR(ParseEmergencyStones(ctx, args, &o));
  return failover::EmergencyFailover(o);
}

}  // namespace tranship::cli
