// tranship status [--json]: one row per process of this home and per stopped stone.
//
// Rows come from the pid files in run/ (every daemon writes one, see pidfile.h), so a
// new kind of daemon appears here by writing its pid file; stones without a live
// process are added from etc/conf.d with status "exists".

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "cli/commands.h"
#include "cli/json.h"
#include "cli/pidfile.h"
#include "cli/stone_state.h"

namespace tranship::cli {
namespace {

struct StatusRow {
  std::string status;   // running, exists, stale pid
  std::string version;
  std::string owner;
  pid_t pid = 0;        // 0: none
  std::string port;
  uint64_t started_us = 0;
  std::string type;
  std::string name;
};

constexpr std::array<std::string_view, 8> kColumns = {
    "Status", "Version", "Owner", "Pid", "Port", "Started", "Type", "Name"};

bool IsAlive(const ProcessDescription& d) {
  // A stone's pid is checked against its command line: pids are reused.
  return d.type == "stone" ? IsStoneProcess(d.pid, d.name) : ProcessAlive(d.pid);
}

std::vector<StatusRow> CollectRows(const Home& home) {
  std::vector<StatusRow> rows;
  std::set<std::string> stones_with_process;
  for (const ProcessDescription& d : ReadPidFiles(home.RunDir())) {
    bool alive = IsAlive(d);
    rows.push_back({alive ? "running" : "stale pid", d.version, d.owner, d.pid,
                    d.port.empty() ? "-" : d.port, d.started_us, d.type, d.name});
    if (d.type == "stone") stones_with_process.insert(d.name);
  }
  for (const std::string& name : home.ListStones()) {
    if (stones_with_process.count(name)) continue;
    rows.push_back({ToString(RunState::kStopped), "-", FileOwner(home.ConfPath(name)), 0, "-",
                    0, "stone", name});
  }
  std::sort(rows.begin(), rows.end(), [](const StatusRow& a, const StatusRow& b) {
    return std::tie(a.type, a.name, a.pid) < std::tie(b.type, b.name, b.pid);
  });
  return rows;
}

std::array<std::string, 8> Cells(const StatusRow& r) {
  return {r.status,
          r.version,
          r.owner,
          r.pid == 0 ? "-" : std::to_string(r.pid),
          r.port,
          r.started_us == 0 ? "-" : FormatLocalTime(r.started_us),
          r.type,
          r.name};
}

void PrintTable(const std::vector<StatusRow>& rows) {
  std::vector<std::array<std::string, 8>> cells;
  cells.push_back({});
  for (size_t i = 0; i < kColumns.size(); i++) cells[0][i] = kColumns[i];
  for (const StatusRow& r : rows) cells.push_back(Cells(r));
  std::array<size_t, 8> width{};
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); i++) width[i] = std::max(width[i], line[i].size());
  }
  for (const auto& line : cells) {
    std::string out;
    for (size_t i = 0; i < line.size(); i++) {
      out += i + 1 == line.size() ? line[i] : fmt::format("{:<{}}  ", line[i], width[i]);
    }
    fmt::print("{}\n", out);
  }
}

void PrintJson(const std::vector<StatusRow>& rows) {
  JsonWriter w;
  w.BeginArray();
  for (const StatusRow& r : rows) {
    w.BeginObject();
    w.Key("status");
    w.String(r.status);
    w.Key("version");
    w.String(r.version);
    w.Key("owner");
    w.String(r.owner);
    w.Key("pid");
    if (r.pid == 0) w.Null(); else w.Int(r.pid);
    w.Key("port");
    w.String(r.port);
    w.Key("started");
    if (r.started_us == 0) w.Null(); else w.String(FormatUtc(r.started_us));
    w.Key("type");
    w.String(r.type);
    w.Key("name");
    w.String(r.name);
    w.EndObject();
  }
  w.EndArray();
  fmt::print("{}\n", w.str());
}

}  // namespace

Status StatusCommand(Context& ctx, const Args& args) {
  std::vector<StatusRow> rows = CollectRows(ctx.home);
  if (args.Has("--json")) {
    PrintJson(rows);
  } else {
    PrintTable(rows);
  }
  return Status::OK();
}

}  // namespace tranship::cli
