#pragma once
// The tranship commands. Each is a function from parsed arguments to a Status; on
// failure main() prints the status message (one line: what is wrong and how to fix it)
// to stderr and exits 1. Usage errors found before a command runs exit 2.

#include <string>

#include "base/status.h"
#include "cli/args.h"
#include "home/config.h"
#include "home/connect.h"
#include "home/home.h"
#include "home/stone_process.h"
#include "home/stone_state.h"

namespace tranship::cli {

// The home of this host's stones (home/), by the short names the commands use.
using home::ConnectStone;
using home::Home;
using home::kStopTimeoutS;
using home::ProbeStone;
using home::RequireRunning;
using home::RunState;
using home::StartStoneDaemon;
using home::StoneConfig;
using home::StoneState;
using home::StopStoneProcess;
using home::ValidateStoneName;

struct Context {
  Home home;
  std::string self_exe;  // this binary, re-executed for the stone daemon
};

using CommandFn = Status (*)(Context& ctx, const Args& args);

struct Command {
  std::string_view name;     // the command words: "stone start"
  std::string_view summary;  // one line for `tranship help`
  ArgSpec spec;
  CommandFn run;
  bool hidden = false;       // internal (the daemon's entry point)
};

// stone_commands.cc
Status StoneCreate(Context& ctx, const Args& args);
Status StoneList(Context& ctx, const Args& args);
Status StoneStart(Context& ctx, const Args& args);
Status StoneStop(Context& ctx, const Args& args);
Status StoneRestart(Context& ctx, const Args& args);
Status StoneDestroy(Context& ctx, const Args& args);
// snapshot_commands.cc
Status StoneSnapshot(Context& ctx, const Args& args);
Status StoneRestoreSnapshot(Context& ctx, const Args& args);
// daemon.cc
Status StoneServe(Context& ctx, const Args& args);
// status.cc
Status StatusCommand(Context& ctx, const Args& args);
// data_commands.cc
Status PutCommand(Context& ctx, const Args& args);
Status GetCommand(Context& ctx, const Args& args);
Status DelCommand(Context& ctx, const Args& args);
Status AdminCommand(Context& ctx, const Args& args);
// load_command.cc
Status LoadCommand(Context& ctx, const Args& args);
// tranlog_commands.cc
Status TranlogInfo(Context& ctx, const Args& args);
Status TranlogVerify(Context& ctx, const Args& args);
// workload_command.cc
Status WorkloadCommand(Context& ctx, const Args& args);
// logsender_command.cc
Status LogsenderStart(Context& ctx, const Args& args);
Status LogsenderStop(Context& ctx, const Args& args);
Status LogsenderServe(Context& ctx, const Args& args);
// logreceiver_command.cc
Status LogreceiverStart(Context& ctx, const Args& args);
Status LogreceiverStop(Context& ctx, const Args& args);
Status LogreceiverServe(Context& ctx, const Args& args);
// failover_command.cc
Status FailoverCommand(Context& ctx, const Args& args);

}  // namespace tranship::cli
