// How the logsender follows the primary's history: a new durable end from the stone
// or the disk, a new lineage (commit-restore), files put back to an earlier state
// (restore-snapshot). Each change tells the receiver sessions (logsender.cc) whether
// what was sent to them still holds; frames built for a forgotten history are dropped.
#include <fmt/format.h>

#include "base/log.h"
#include "logsender/handshake.h"
#include "logsender/logsender.h"

namespace tranship::logsender {

void LogSender::OnDurableEnd(const DurableEnd& e, bool from_stone) {
  bool lineage_changed = false;
  if (!end_.lineage.IsZero() && e.lineage != end_.lineage) {
    TS_LOG_WARN(
        "the primary's lineage changed from {} to {} (durable end {}); shipping the new "
        "history",
        end_.lineage.ToHex(), e.lineage.ToHex(), e.pos.ToString());
    ForgetHistory();
    lineage_changed = true;
  } else if (e.pos < end_.pos) {
    // Either the stone has not yet reported a batch this logsender found on disk and
    // synced itself (it will in a moment), or the primary's files were put back to an
    // earlier state (restore-snapshot, a copy put back by hand): what this logsender
    // found durable is not there any more. A fresh scan tells which.
    std::optional<DurableEnd> disk = RescanDisk();
    if (disk && Rewound(*disk)) return Rewind(from_stone ? e : *disk);
    if (!from_stone) return;  // an incremental scan that lost its place: nothing changed
    TS_LOG_INFO("the stone '{}' reports its durable end at {} (TID {}), before {} found on "
                "disk; following the stone",
                opts_.stone, e.pos.ToString(), e.tid, end_.pos.ToString());
    ForgetHistory();
  }
  if (e == end_) return;
  if (from_stone) disk_.Reset(e);
  end_ = e;
  nothing_until_.clear();
  if (lineage_changed) RecheckSessions();
  SendDataToAll();
}

const CurrentHistory* LogSender::Current() {
  if (current_ && current_->lineage() == end_.lineage) return &*current_;
  Result<CurrentHistory> c = CurrentHistory::Trace(history_, end_);
  if (!c.ok()) {
    if (c.status().message() != last_trace_error_) {
      TS_LOG_ERROR("cannot trace the primary's history back from {}: {}", end_.pos.ToString(),
                   c.status().ToString());
      last_trace_error_ = c.status().message();
    }
    current_.reset();
    return nullptr;
  }
  last_trace_error_.clear();
  current_ = std::move(*c);
  if (current_->segments().size() > 1) {
    TS_LOG_INFO("the primary's history: {}", current_->Describe());
  }
  return &*current_;
}

void LogSender::RecheckSessions() {
  std::vector<ReceiverSession*> live;
  for (auto& [id, s] : sessions_) {
    if (s->welcomed()) live.push_back(s.get());
  }
  for (ReceiverSession* s : live) {
    // Where its stream stands now, as a receiver resuming there would say it.
    const Boundary& at = s->cursor();
    wire::Hello h;
    h.version = wire::kProtocolVersion;
    h.receiver_stone = s->stone();
    h.receiver_host.push_back('-');  // not = "-": GCC 12 -Wrestrict false positive
    h.mode = wire::StartMode::kResume;
    h.lineage = s->lineage();
    h.resume = at.pos;
    h.resume_tid = at.next_tid - 1;
    h.resume_chain = at.chain;
    HandshakeDecision d = CheckHello(h, history_, end_, opts_.stone);
    if (!d.accepted && d.refuse.code == wire::RefuseCode::kForkInTime) {
      stats_.refused++;
      s->Refuse(d.refuse);
    }
  }
}

std::optional<DurableEnd> LogSender::RescanDisk() {
  disk_.Forget();
  Result<DurableEnd> d = disk_.Scan();
  if (!d.ok()) {
    TS_LOG_WARN("cannot scan the primary's tranlogs: {}", d.status().ToString());
    disk_.Reset(end_);
    return std::nullopt;
  }
  return *d;
}

void LogSender::ForgetHistory() {
  cache_.Clear();
  history_.ForgetBoundaries();
  current_.reset();
  nothing_until_.clear();
  epoch_++;  // frames being built now belong to the history forgotten
}

bool LogSender::Holds(const Boundary& b, const DurableEnd& end) {
  if (end.pos < b.pos) return false;
  Result<Boundary> found = history_.FindBoundary(b.pos, end);
  return found.ok() && found->next_tid == b.next_tid && found->chain == b.chain;
}

bool LogSender::Rewound(const DurableEnd& disk) {
  if (disk.lineage != end_.lineage) return false;  // a new lineage: OnDurableEnd's case
  (void)history_.Refresh();
  history_.ForgetBoundaries();  // what was learned may be of the files replaced
  return !Holds(Boundary{end_.pos, end_.tid + 1, end_.chain, 0}, disk);
}

void LogSender::Rewind(const DurableEnd& e) {
  TS_LOG_WARN("the primary's tranlogs were put back to an earlier state: they no longer hold "
              "{} (TID {}) that this logsender had found durable, and now end at {} (TID {}, "
              "lineage {}) (a snapshot or a copy put back); receivers sent anything that is "
              "not on them reconnect and are told whether their archive still is",
              end_.pos.ToString(), end_.tid, e.pos.ToString(), e.tid, e.lineage.ToHex());
  (void)history_.Refresh();
  ForgetHistory();
  end_ = e;
  disk_.Reset(e);
  // What was sent that the files no longer hold may or may not be in a receiver's
  // archive: its Hello, from what the archive holds, decides (the handshake refuses a
  // fork in time at once).
  std::vector<ReceiverSession*> off;
  for (auto& [id, s] : sessions_) {
    if (s->welcomed() && !Holds(s->cursor(), e)) off.push_back(s.get());
  }
  for (ReceiverSession* s : off) {
    stats_.dropped++;
    s->Drop(fmt::format("the primary's tranlogs no longer hold what was sent to it (up to {}); "
                        "it reconnects from what its archive holds",
                        s->cursor().pos.ToString()));
  }
  RecheckSessions();
  SendDataToAll();
}

}  // namespace tranship::logsender
