#include "logsender/handshake.h"

#include <fmt/format.h>

#include "base/log.h"
#include "logsender/lineages.h"

namespace tranship::logsender {
namespace {

constexpr char kReseed[] = "Reseed this standby from a new backup of the primary.";

HandshakeDecision Refused(wire::RefuseCode code, std::string message) {
  HandshakeDecision d;
  d.refuse.code = code;
  d.refuse.message = std::move(message);
  return d;
}

HandshakeDecision Accepted(const Boundary& start, std::optional<Boundary> acked) {
  HandshakeDecision d;
  d.accepted = true;
  d.start = start;
  d.acked = acked;
  return d;
}

// "fork in time: this standby's archive ends at tranlog 7 offset 1234 (lineage L1, TID
// 99), which is not in the history of primary stone 'prod' (HISTORY; DETAIL). Reseed
// this standby from a new backup of the primary." HISTORY is the current history in
// words (both lineages and where one leaves the other, after a commit-restore).
HandshakeDecision Fork(const wire::Hello& h, const DurableEnd& end, const std::string& stone,
                       const CurrentHistory* cur, const std::string& detail) {
  std::string standby =
      h.mode == wire::StartMode::kAfterTid
          ? fmt::format("this standby's stone '{}' ends at TID {} (lineage {}, chain {:016x})",
                        h.receiver_stone, h.resume_tid, h.lineage.ToHex(), h.resume_chain)
          : fmt::format("this standby's archive ends at {} (lineage {}, TID {})",
                        h.resume.ToString(), h.lineage.ToHex(), h.resume_tid);
  std::string history = cur != nullptr ? cur->Describe()
                                       : fmt::format("lineage {}", end.lineage.ToHex());
  return Refused(wire::RefuseCode::kForkInTime,
                 fmt::format("fork in time: {}, which is not in the history of primary stone "
                             "'{}' ({}; {}). {}",
                             standby, stone, history, detail, kReseed));
}

// The standby followed segment i's parent past the point where segment i leaves it.
std::string Abandoned(const CurrentHistory& cur, size_t i, uint64_t tid) {
  const Segment& s = cur.segments()[i];
  return fmt::format("this standby went on past TID {} of lineage {} ({}) on a branch the "
                     "primary abandoned, up to TID {}",
                     s.parent_tid, s.parent.ToHex(), s.parent_end.ToString(), tid);
}

std::string Oldest(History& history) {
  if (history.oldest() == 0) {
    return fmt::format("it has no tranlogs in {}", fmt::join(history.dirs(), ", "));
  }
  return fmt::format("its oldest is tranlog {} in {}", history.oldest(),
                     fmt::join(history.dirs(), ", "));
}

HandshakeDecision Gone(History& history, uint64_t file_id, const std::string& why) {
  return Refused(wire::RefuseCode::kTranlogGone,
                 fmt::format("tranlog {} ({}), {}, is no longer on the primary ({}). {}", file_id,
                             history.FileName(file_id), why, Oldest(history), kReseed));
}

HandshakeDecision CannotTrace(const Status& s) {
  // Damage on the primary is not the standby's fault: say so plainly.
  return Refused(wire::RefuseCode::kTranlogGone,
                 fmt::format("the primary cannot read its own history: {}", s.message()));
}

std::string EndWords(const DurableEnd& end) {
  return fmt::format("its durable end is {} at TID {}", end.pos.ToString(), end.tid);
}

HandshakeDecision FromStart(History& history) {
  Result<tranlog::FileHeader> h = history.Header(1);
  if (!h.ok()) {
    if (h.status().IsNotFound()) {
      return Gone(history, 1, "where this standby's empty archive must start");
    }
    return Refused(
        wire::RefuseCode::kTranlogGone,
        fmt::format("tranlog 1 cannot be read on the primary: {}", h.status().message()));
  }
  return Accepted(Boundary{{1, 0}, h->first_tid, h->start_chain, 0}, std::nullopt);
}

// kAfterTid t: the whole file that holds TID t + 1 on the current history, from its
// header; record t (or the file's start chain, when t + 1 is its first record) must
// carry the standby's chain.
HandshakeDecision AfterTid(const wire::Hello& hello, History& history, const DurableEnd& end,
                           const std::string& stone) {
  uint64_t t = hello.resume_tid;
  Result<CurrentHistory> cur = CurrentHistory::Trace(history, end);
  if (!cur.ok()) return CannotTrace(cur.status());
  if (t > end.tid) return Fork(hello, end, stone, &*cur, EndWords(end));
  int i = cur->SegmentAfter(t);
  const Segment* s = i >= 0 ? &cur->segments()[static_cast<size_t>(i)] : nullptr;
  if (s == nullptr || t + 1 < s->first_tid) {
    return Refused(wire::RefuseCode::kTranlogGone,
                   fmt::format("the tranlog holding TID {}, which this standby needs next, is no "
                               "longer on the primary ({}). {}",
                               t + 1, Oldest(history), kReseed));
  }
  if (t + 1 == s->first_tid) {
    if (hello.resume_chain != s->start_chain) {
      return Fork(hello, end, stone, &*cur,
                  fmt::format("its TID {} has chain {:016x}", t, s->start_chain));
    }
    return Accepted(Boundary{{s->first_file, 0}, s->first_tid, s->start_chain, 0}, std::nullopt);
  }
  uint64_t file = s->first_file;
  for (uint64_t id = s->last_file; id > s->first_file; id--) {
    Result<tranlog::FileHeader> h = history.Header(id);
    if (h.ok() && h->first_tid <= t + 1) {
      file = id;
      break;
    }
  }
  Result<Boundary> b = history.BoundaryAfterTid(file, t);
  if (!b.ok()) {
    return Fork(hello, end, stone, &*cur,
                fmt::format("{} does not hold TID {}", history.FileName(file), t));
  }
  if (b->chain != hello.resume_chain) {
    std::string detail = fmt::format("its TID {} has chain {:016x}", t, b->chain);
    if (i == 0 && s->starts_here && hello.lineage == s->parent) {
      detail = Abandoned(*cur, 0, t) + "; " + detail;
    }
    return Fork(hello, end, stone, &*cur, detail);
  }
  Result<tranlog::FileHeader> h = history.Header(file);
  if (!h.ok()) return Gone(history, file, "which holds the next TID");
  return Accepted(Boundary{{file, 0}, h->first_tid, h->start_chain, 0}, std::nullopt);
}

// kResume (f, o) inside one lineage of the current history, `seg_end` being where that
// lineage ends on it (the durable end, or the parent end its child names).
HandshakeDecision ResumeInSegment(const wire::Hello& hello, History& history,
                                  const DurableEnd& seg_end, const DurableEnd& end,
                                  const std::string& stone, const CurrentHistory& cur) {
  const Position& p = hello.resume;
  const uint64_t want_next = hello.resume_tid + 1;
  auto matches = [&](const Boundary& b) {
    return b.next_tid == want_next && b.chain == hello.resume_chain;
  };
  auto mismatch = [&](const Boundary& b) {
    if (b.next_tid != want_next) {
      return fmt::format("the record before {} there is TID {}", p.ToString(), b.next_tid - 1);
    }
    return fmt::format("its TID {} has chain {:016x}", b.next_tid - 1, b.chain);
  };
  bool file_exists = history.PathOf(p.file_id).has_value();
  if (!file_exists) {
    if (p.file_id < history.oldest()) {
      return Gone(
          history, p.file_id,
          fmt::format("which this standby needs next (its archive ends at {})", p.ToString()));
    }
    // The receiver has every record up to a log switch; the next file is not created
    // yet. That is where the primary's durable end must be too.
    if (p.offset == 0 && p.file_id == end.pos.file_id + 1) {
      Result<Boundary> at_end = history.FindBoundary(end.pos, end);
      if (at_end.ok() && at_end->pos == p && matches(*at_end)) return Accepted(*at_end, *at_end);
      if (at_end.ok() && at_end->pos == p) return Fork(hello, end, stone, &cur, mismatch(*at_end));
    }
    return Fork(hello, end, stone, &cur, EndWords(end));
  }
  if (p.offset == 0) {
    Result<tranlog::FileHeader> h = history.Header(p.file_id);
    if (!h.ok()) {
      return Refused(wire::RefuseCode::kTranlogGone,
                     fmt::format("{} cannot be read on the primary: {}",
                                 history.FileName(p.file_id), h.status().message()));
    }
    Boundary b{p, h->first_tid, h->start_chain, 0};
    if (!matches(b)) {
      return Fork(hello, end, stone, &cur,
                  fmt::format("{} starts at TID {} after chain {:016x}",
                              history.FileName(p.file_id), h->first_tid, h->start_chain));
    }
    return Accepted(b, b);
  }
  if (seg_end.pos < p) return Fork(hello, end, stone, &cur, EndWords(end));
  Result<Boundary> b = history.FindBoundary(p, seg_end);
  if (!b.ok()) {
    if (b.status().IsNotFound()) {
      return Gone(
          history, p.file_id,
          fmt::format("which this standby needs next (its archive ends at {})", p.ToString()));
    }
    if (b.status().code() == Status::Code::kInvalidArgument) {
      return Fork(hello, end, stone, &cur, b.status().message());
    }
    // Damage on the primary is not the standby's fault: say so plainly.
    return Refused(wire::RefuseCode::kTranlogGone,
                   fmt::format("the primary cannot read {} up to {}: {}",
                               history.FileName(p.file_id), p.ToString(), b.status().message()));
  }
  if (!matches(*b)) return Fork(hello, end, stone, &cur, mismatch(*b));
  return Accepted(*b, *b);
}

// kResume (f, o) after TID t with chain c. The lineage of the current history that holds
// record t decides (docs/protocol.md, "Which positions are on the primary's history"):
// at a junction (t is a parent's last TID there) the chain must be the child's start
// chain and the stream starts at the child's first file; inside a lineage the position
// must lie in that lineage's files, up to its end, at a boundary after record t.
HandshakeDecision Resume(const wire::Hello& hello, History& history, const DurableEnd& end,
                         const std::string& stone) {
  const Position& p = hello.resume;
  const uint64_t t = hello.resume_tid;
  Result<CurrentHistory> cur = CurrentHistory::Trace(history, end);
  if (!cur.ok()) return CannotTrace(cur.status());
  if (t > end.tid) return Fork(hello, end, stone, &*cur, EndWords(end));
  int i = cur->SegmentOf(t);
  if (i < 0) {
    return Gone(
        history, std::max<uint64_t>(p.file_id, 1),
        fmt::format("which this standby needs next (its archive ends at {})", p.ToString()));
  }
  const size_t si = static_cast<size_t>(i);
  const Segment& s = cur->segments()[si];
  if (si > 0 && t == s.end_tid) {
    Junction j = cur->JunctionOutOf(si);
    if (hello.resume_chain != j.chain) {
      return Fork(hello, end, stone, &*cur,
                  fmt::format("its TID {} has chain {:016x}", t, j.chain));
    }
    if (p == j.next.pos) return Accepted(j.next, j.next);
    if (p.file_id >= j.next.pos.file_id) {
      return Fork(hello, end, stone, &*cur,
                  fmt::format("this standby's archive holds {} of lineage {}, where the "
                              "primary's tranlog {} begins lineage {}",
                              history.FileName(p.file_id), j.parent.ToHex(), j.next.pos.file_id,
                              cur->segments()[si - 1].lineage.ToHex()));
    }
    // The same point of the history: its archive goes on with the child's first file.
    return Accepted(j.next, Boundary{p, t + 1, j.chain, 0});
  }
  if (s.starts_here && p.file_id < s.first_file) {
    return Fork(hello, end, stone, &*cur, Abandoned(*cur, si, t));
  }
  DurableEnd seg_end = end;
  if (si > 0) {
    if (s.end < p || p.file_id > s.last_file) {
      return Fork(hello, end, stone, &*cur, Abandoned(*cur, si - 1, t));
    }
    seg_end = DurableEnd{s.lineage, s.end, s.end_tid, s.end_chain, 0};
  }
  return ResumeInSegment(hello, history, seg_end, end, stone, *cur);
}

}  // namespace

HandshakeDecision CheckHello(const wire::Hello& hello, History& history, const DurableEnd& end,
                             const std::string& stone_name) {
  if (hello.version != wire::kProtocolVersion) {
    return Refused(wire::RefuseCode::kProtocolVersion,
                   fmt::format("the logreceiver speaks shipping protocol version {}, but this "
                               "logsender (tranship {}) speaks version {}. Run the same tranship "
                               "version on the primary and the standby.",
                               hello.version, TRANSHIP_VERSION, wire::kProtocolVersion));
  }
  if (hello.receiver_stone.empty()) {
    return Refused(wire::RefuseCode::kBadHello,
                   "the logreceiver's hello names no standby stone (-s STONE).");
  }
  switch (hello.mode) {
    case wire::StartMode::kFromStart:
      return FromStart(history);
    case wire::StartMode::kAfterTid:
      return AfterTid(hello, history, end, stone_name);
    case wire::StartMode::kResume:
      if (hello.resume.file_id == 0) {
        return Refused(wire::RefuseCode::kBadHello,
                       "the logreceiver's hello resumes at tranlog 0, which never exists.");
      }
      return Resume(hello, history, end, stone_name);
  }
  return Refused(wire::RefuseCode::kBadHello,
                 fmt::format("the logreceiver's hello has an unknown start mode {}",
                             static_cast<int>(hello.mode)));
}

wire::Refuse TooManyReceivers(size_t limit, const std::vector<std::string>& served) {
  wire::Refuse r;
  r.code = wire::RefuseCode::kTooManyReceivers;
  r.message = fmt::format("this logsender already serves {} logreceivers (the limit): {}", limit,
                          fmt::join(served, ", "));
  return r;
}

}  // namespace tranship::logsender
