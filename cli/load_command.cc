// tranship load NAME < FILE: commits the transactions of a line file (load_parser.h).
//
// "commit" ends a transaction; lines after the last "commit" form a final transaction
// committed at end of input. A bad line stops the load before anything of the
// transaction it is in is sent, so every transaction before it stays committed and none
// is half-applied. On a terminal a single progress line is updated in place.

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <fmt/format.h>

#include "base/clock.h"
#include "cli/commands.h"
#include "home/connect.h"
#include "cli/load_parser.h"

namespace tranship::cli {
namespace {

constexpr uint64_t kProgressIntervalNs = 200'000'000;  // 5 updates a second

class Progress {
 public:
  Progress() : enabled_(isatty(2) == 1), start_(MonotonicNanos()) {}
  void Update(uint64_t lines, uint64_t commits, bool final = false) {
    if (!enabled_) return;
    uint64_t now = MonotonicNanos();
    if (!final && now - last_ < kProgressIntervalNs) return;
    last_ = now;
    double secs = static_cast<double>(now - start_) / 1e9;
    double rate = secs > 0 ? static_cast<double>(commits) / secs : 0;
    fmt::print(stderr, "\r{} lines, {} commits, {:.0f} commits/s\x1b[K{}", lines, commits, rate,
               final ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  uint64_t start_;
  uint64_t last_ = 0;
};

}  // namespace

Status LoadCommand(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(ctx.home, name);
  if (!client.ok()) return client.status();
  Progress progress;
  TxnRequest txn;
  uint64_t line_no = 0, commits = 0, txn_first_line = 0;
  auto commit = [&]() -> Status {
    if (txn.writes.empty()) return Status::OK();
    Result<uint64_t> tid = (*client)->Commit(txn);
    if (!tid.ok()) {
      progress.Update(line_no, commits, true);
      return Status::IOError(fmt::format(
          "stdin line {}: the transaction that began on line {} failed: {} ({} transactions "
          "before it were committed).", line_no, txn_first_line, tid.status().message(),
          commits));
    }
    commits++;
    txn = TxnRequest();
    return Status::OK();
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    line_no++;
    Result<LoadLine> parsed = ParseLoadLine(line);
    if (!parsed.ok()) {
      progress.Update(line_no, commits, true);
      return Status::InvalidArgument(fmt::format(
          "stdin line {}: {}. {} transactions before it were committed; the one in progress "
          "was not. To fix this correct the line and load the rest from line {}.",
          line_no, parsed.status().message(), commits,
          txn.writes.empty() ? line_no : txn_first_line));
    }
    switch (parsed->kind) {
      case LoadLine::Kind::kSkip: break;
      case LoadLine::Kind::kCommit: TRANSHIP_RETURN_IF_ERROR(commit()); break;
      case LoadLine::Kind::kPut:
      case LoadLine::Kind::kDel: {
        if (txn.writes.empty()) txn_first_line = line_no;
        WriteOp op;
        op.kind = parsed->kind == LoadLine::Kind::kPut ? WriteOp::Kind::kPut
                                                        : WriteOp::Kind::kDelete;
        op.key = std::move(parsed->key);
        op.value = std::move(parsed->value);
        txn.writes.push_back(std::move(op));
        break;
      }
    }
    progress.Update(line_no, commits);
  }
  if (std::cin.bad()) return Status::IOError("cannot read stdin");
  TRANSHIP_RETURN_IF_ERROR(commit());  // the final transaction needs no "commit" line
  progress.Update(line_no, commits, true);
  fmt::print("Loaded {} lines into the stone '{}': {} transactions committed.\n", line_no, name,
             commits);
  return Status::OK();
}

}  // namespace tranship::cli
