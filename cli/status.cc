// tranship status [--json]: one row per process of this home and per stopped stone.
//
// Rows come from the pid files in run/ (every daemon writes one, see pidfile.h), so a
// new kind of daemon appears here by writing its pid file; stones without a live
// process are added from etc/conf.d with status "exists". A running daemon that also
// keeps a status file beside its pid file (run/logsender-PORT.status,
// run/logreceiver-PORT-STONE.status) gets its details shown under the table: for a
// logsender one line per receiver (address, state, acknowledged position, lag), for a
// logreceiver its state, archive end and lag. --json puts them under "detail".
//
// A daemon rewrites its status file every second, so the details are as old as the
// file: each details line says how old (from the file's mtime), and one not rewritten
// for kStaleSeconds says so: the daemon's process is there, but it may be hung.

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "base/json.h"
#include "base/json_parse.h"
#include "daemon/run_files.h"
#include "home/stone_state.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::ReadPidFiles;
using daemon::IsStoneProcess;
using daemon::FileOwner;
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
  std::optional<JsonValue> detail;  // the daemon's status file, if it keeps one
  double detail_age_s = 0;          // how long ago that file was written
};

constexpr double kStaleSeconds = 5;  // the daemons rewrite their status files every second

constexpr std::array<std::string_view, 8> kColumns = {
    "Status", "Version", "Owner", "Pid", "Port", "Started", "Type", "Name"};

bool IsAlive(const ProcessDescription& d) {
  // A stone's pid is checked against its command line: pids are reused.
  return d.type == "stone" ? IsStoneProcess(d.pid, d.name) : ProcessAlive(d.pid);
}

// The status file beside a daemon's pid file ("x.pid" -> "x.status"), parsed, and how
// many seconds ago it was written; nullopt if it has none (a stone) or it cannot be read
// as JSON (being replaced: rare, shown as -).
std::optional<JsonValue> ReadDetail(const ProcessDescription& d, double* age_s) {
  if (d.type == "stone" || !d.pidfile.ends_with(".pid")) return std::nullopt;
  std::string path = d.pidfile.substr(0, d.pidfile.size() - 4) + ".status";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  Result<std::string> text = ReadFileToString(Env::Default(), path);
  if (!text.ok()) return std::nullopt;
  Result<JsonValue> v = ParseJson(*text);
  if (!v.ok() || v->kind != JsonValue::Kind::kObject) return std::nullopt;
  const int64_t written_us = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 +
                             st.st_mtim.tv_nsec / 1000;
  // A clock set back makes the file look newer than now: call that fresh.
  *age_s = std::max<double>(0, static_cast<double>(static_cast<int64_t>(NowMicros()) -
                                                   written_us) / 1e6);
  return std::move(*v);
}

std::vector<StatusRow> CollectRows(const Home& home) {
  std::vector<StatusRow> rows;
  std::set<std::string> stones_with_process;
  for (const ProcessDescription& d : ReadPidFiles(home.RunDir())) {
    bool alive = IsAlive(d);
    rows.push_back({alive ? "running" : "stale pid", d.version, d.owner, d.pid,
                    d.port.empty() ? "-" : d.port, d.started_us, d.type, d.name, std::nullopt});
    if (alive) rows.back().detail = ReadDetail(d, &rows.back().detail_age_s);
    if (d.type == "stone") stones_with_process.insert(d.name);
  }
  for (const std::string& name : home.ListStones()) {
    if (stones_with_process.count(name)) continue;
    rows.push_back({ToString(RunState::kStopped), "-", FileOwner(home.ConfPath(name)), 0, "-",
                    0, "stone", name, std::nullopt});
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
    if (r.type != "stone") {
      w.Key("detail");
      if (r.detail) WriteJson(&w, *r.detail); else w.Null();
      w.Key("detail_age_seconds");
      if (r.detail) w.Double(r.detail_age_s); else w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  fmt::print("{}\n", w.str());
}

// Left-aligned columns, two spaces apart, each line after `indent`.
void PrintColumns(const std::vector<std::vector<std::string>>& lines, std::string_view indent) {
  std::vector<size_t> width;
  for (const auto& line : lines) {
    if (width.size() < line.size()) width.resize(line.size());
    for (size_t i = 0; i < line.size(); i++) width[i] = std::max(width[i], line[i].size());
  }
  for (const auto& line : lines) {
    std::string out(indent);
    for (size_t i = 0; i < line.size(); i++) {
      out += i + 1 == line.size() ? line[i] : fmt::format("{:<{}}  ", line[i], width[i]);
    }
    fmt::print("{}\n", out);
  }
}

// "tranlog 3 offset 4096 (TID 120)" from {"file":3,"offset":4096,"tid":120}.
std::string PositionText(const JsonValue* p, bool with_tid = true) {
  if (p == nullptr || p->kind != JsonValue::Kind::kObject) return "-";
  std::string s = fmt::format("tranlog {} offset {}", p->Uint("file"), p->Uint("offset"));
  if (with_tid && p->Get("tid") != nullptr) s += fmt::format(" (TID {})", p->Uint("tid"));
  return s;
}

std::string LagText(const JsonValue& v) {
  std::optional<double> secs = v.Num("lag_seconds");
  return fmt::format("{} bytes, {}", v.Uint("lag_bytes"),
                     secs ? fmt::format("{:.3f} s", *secs) : std::string("- s"));
}

// "as of 0.4 s ago", or a warning when the daemon has stopped rewriting its status file.
std::string AgeText(const StatusRow& r) {
  if (r.detail_age_s < kStaleSeconds) return fmt::format("as of {:.1f} s ago", r.detail_age_s);
  return fmt::format("as of {:.0f} s ago: not rewritten since, though the {} rewrites it "
                     "every second; it may be hung (pid {})",
                     r.detail_age_s, r.type, r.pid);
}

void PrintSenderDetail(const StatusRow& r, const JsonValue& v) {
  fmt::print("\nlogsender on port {} for the stone '{}' ({}; {}): primary durable end {} ({})\n",
             r.port, r.name, v.Bool("tls") ? "TLS" : "plaintext",
             v.Bool("stone_connected") ? "following the stone"
                                       : "the stone is not reachable: shipping what is "
                                         "durable on disk",
             PositionText(v.Get("primary_end")), AgeText(r));
  const JsonValue* receivers = v.Get("receivers");
  if (receivers == nullptr || receivers->items.empty()) {
    fmt::print("  no logreceivers connected\n");
    return;
  }
  std::vector<std::vector<std::string>> lines = {
      {"Receiver", "Standby", "State", "Acknowledged", "Lag bytes", "Lag seconds"}};
  for (const JsonValue& rv : receivers->items) {
    std::optional<double> secs = rv.Num("lag_seconds");
    lines.push_back({rv.Str("peer", "-"), rv.Str("stone", "-"), rv.Str("state", "-"),
                     PositionText(rv.Get("acked")), std::to_string(rv.Uint("lag_bytes")),
                     secs ? fmt::format("{:.3f}", *secs) : "-"});
  }
  PrintColumns(lines, "  ");
}

void PrintReceiverDetail(const StatusRow& r, const JsonValue& v) {
  std::string error = v.Str("last_error");
  fmt::print("\nlogreceiver on port {} for the stone '{}' (from {}): {}; archive end {}; lag {}{} ({})\n",
             r.port, r.name, v.Str("master", "-"), v.Str("state", "-"),
             PositionText(v.Get("archive_end")), LagText(v),
             error.empty() ? "" : "; last error: " + error, AgeText(r));
}

void PrintDetails(const std::vector<StatusRow>& rows) {
  for (const StatusRow& r : rows) {
    if (!r.detail) continue;
    if (r.type == "logsender") PrintSenderDetail(r, *r.detail);
    if (r.type == "logreceiver") PrintReceiverDetail(r, *r.detail);
  }
}

}  // namespace

Status StatusCommand(Context& ctx, const Args& args) {
  std::vector<StatusRow> rows = CollectRows(ctx.home);
  if (args.Has("--json")) {
    PrintJson(rows);
  } else {
    PrintTable(rows);
    PrintDetails(rows);
  }
  return Status::OK();
}

}  // namespace tranship::cli
