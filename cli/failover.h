#pragma once
// tranship failover: the planned and the emergency procedure (docs/standby.md), each a
// list of timed steps (cli/failover_steps.h). FailoverCommand (cli/commands.h) parses
// the options shared by both and calls one of them.

#include <cstdint>
#include <string>

#include "base/status.h"
#include "cli/commands.h"

namespace tranship::cli {

struct FailoverOptions {
  static constexpr int kDefaultTimeoutS = 60;
  int timeout_s = kDefaultTimeoutS;  // each wait: the failover checkpoint, a receiver's stop
  uint64_t receiver_port = 0;        // 0: every logreceiver this host runs for the standby
  std::string probe_key;             // "": no probe write
  bool accept_gap = false;           // emergency: commit-restore --accept-gap
};

// cli/failover_command.cc
Status PlannedFailover(Context& ctx, const Args& args, const FailoverOptions& o);
// cli/failover_emergency.cc
Status EmergencyFailover(Context& ctx, const Args& args, const FailoverOptions& o);

}  // namespace tranship::cli
