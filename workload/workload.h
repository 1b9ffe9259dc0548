#pragma once
// tranship workload: a testing tool for crash tests and the demo, not for operators.
//
//   tranship workload NAME [--writers N] [--transactions N] [--seconds S]
//                          [--keys-per-txn K] [--ack-log FILE] [--key-prefix P]
//                          [--visible-on SOCKET[,SOCKET...]]
//   tranship workload NAME --check FILE [--keys-per-txn K] [--key-prefix P]
//
// Writer w (one thread and one connection each) commits transactions i = 0, 1, 2, ...
// in order; transaction i puts K keys "<P>/<w>/<i>/<k>" all with the value "w<w>t<i>"
// (P defaults to "wl"; runs one after another on the same stone use distinct prefixes).
// After each acknowledged commit it appends "<w> <i>" to the ack log (first line
// "writers N"), with one write(2), so the log survives the stone being killed. A writer
// stops at its first error: the outcome of that last commit is unknown.
//
// --check proves the durability and atomicity invariants after a crash: for each
// writer with a acknowledged transactions, transactions 0..a-1 are fully present,
// transaction a (possibly in flight at the crash) is all or nothing, and a+1 was never
// sent so none of it exists.
//
// --visible-on measures replication lag as a client sees it: beside the writers, a
// sampler commits one key "<P>-lag/<n>" every 10 ms and reads each standby stone (its
// Unix socket, e.g. another host's run/NAME.sock) until the key is there, then prints
// commit -> visible p50/p99/max per standby, and beside them how long its commits took
// on the primary: a slow sample with a slow commit stalled before anything shipped.
//
// The tranship command (cli/workload_command.cc) parses the flags into WorkloadOptions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "home/home.h"

namespace tranship::workload {

struct WorkloadOptions {
  std::string stone;                 // NAME: a stone of the home
  std::string key_prefix = "wl";     // --key-prefix P
  uint64_t keys_per_txn = 3;         // --keys-per-txn K
  // The run.
  uint64_t writers = 4;              // --writers N, 1 to 256
  uint64_t transactions = 1000;      // --transactions N, shared among the writers
  uint64_t seconds = 0;              // --seconds S; 0: no time limit
  bool until_deadline = false;       // --seconds without --transactions: commit until then
  std::string ack_log;               // --ack-log FILE; "": none
  // --visible-on: the standbys' sockets; the lag sampler runs when this is set.
  std::optional<std::vector<std::string>> visible_on;
  // The check: --check FILE, the ack log of a run.
  std::string check;
};

// Runs the writers (and the lag sampler) against the running stone `o.stone` of `home`.
Status RunWorkload(const home::Home& home, const WorkloadOptions& o);

// Checks the stone against the ack log `o.check`.
Status CheckWorkload(const home::Home& home, const WorkloadOptions& o);

}  // namespace tranship::workload
