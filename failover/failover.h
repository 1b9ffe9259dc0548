#pragma once
// tranship failover: the planned and the emergency procedure (docs/standby.md), each a
// list of timed steps (failover/steps.h). The tranship command (cli/failover_command.cc)
// parses its flags into FailoverOptions and calls one of them.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "failover/steps.h"

namespace tranship::failover {

struct FailoverOptions {
  static constexpr int kDefaultTimeoutS = 60;
  int timeout_s = kDefaultTimeoutS;  // each wait: the failover checkpoint, a receiver's stop
  uint64_t receiver_port = 0;        // 0: every logreceiver this host runs for the standby
  std::string probe_key;             // "": no probe write
  bool accept_gap = false;           // emergency: commit-restore --accept-gap

  std::optional<StoneRef> standby;   // the standby that becomes the primary (required)
  // Planned: the primary (required). Emergency: the old primary, if named; it must not run,
  // and its tranlogs tell what the new primary never saw.
  std::optional<StoneRef> primary;
  std::vector<StoneRef> other_standbys;  // planned: they follow to the failover checkpoint
  // Emergency: the old primary's tranlog directory (else those of `primary`'s configuration).
  std::optional<std::string> primary_tranlogs;
  // Emergency: prints `tranship tranlog info` of the old primary's last tranlog.
  std::function<void(const std::string& path)> print_tranlog_info;
};

// failover/planned.cc
Status PlannedFailover(const FailoverOptions& o);
// failover/emergency.cc
Status EmergencyFailover(const FailoverOptions& o);

}  // namespace tranship::failover
