#include "logsender/handshake.h"

#include <fmt/format.h>

#include "base/log.h"

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
// 99), which is not in the history of primary stone 'prod' (lineage L2, DETAIL). Reseed
// this standby from a new backup of the primary."
HandshakeDecision Fork(const wire::Hello& h, const DurableEnd& end, const std::string& stone,
                       const std::string& detail) {
  std::string standby =
      h.mode == wire::StartMode::kAfterTid
          ? fmt::format("this standby's stone '{}' ends at TID {} (lineage {}, chain {:016x})",
                        h.receiver_stone, h.resume_tid, h.lineage.ToHex(), h.resume_chain)
          : fmt::format("this standby's archive ends at {} (lineage {}, TID {})",
                        h.resume.ToString(), h.lineage.ToHex(), h.resume_tid);
  return Refused(wire::RefuseCode::kForkInTime,
                 fmt::format("fork in time: {}, which is not in the history of primary stone "
                             "'{}' (lineage {}, {}). {}",
                             standby, stone, end.lineage.ToHex(), detail, kReseed));
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

HandshakeDecision AfterTid(const wire::Hello& hello, History& history, const DurableEnd& end,
                           const std::string& stone) {
  uint64_t t = hello.resume_tid;
  if (t > end.tid) return Fork(hello, end, stone, EndWords(end));
  Result<uint64_t> file = history.FileHolding(t + 1);
  if (!file.ok()) {
    if (!file.status().IsNotFound()) {
      return Refused(wire::RefuseCode::kTranlogGone, file.status().message());
    }
    return Refused(wire::RefuseCode::kTranlogGone,
                   fmt::format("the tranlog holding TID {}, which this standby needs next, is no "
                               "longer on the primary ({}). {}",
                               t + 1, Oldest(history), kReseed));
  }
  Result<Boundary> b = history.BoundaryAfterTid(*file, t);
  if (!b.ok()) {
    return Fork(hello, end, stone,
                fmt::format("{} does not hold TID {}", history.FileName(*file), t));
  }
  if (b->chain != hello.resume_chain) {
    return Fork(hello, end, stone, fmt::format("its TID {} has chain {:016x}", t, b->chain));
  }
  Result<tranlog::FileHeader> h = history.Header(*file);
  if (!h.ok()) return Gone(history, *file, "which holds the next TID");
  return Accepted(Boundary{{*file, 0}, h->first_tid, h->start_chain, 0}, std::nullopt);
}

HandshakeDecision Resume(const wire::Hello& hello, History& history, const DurableEnd& end,
                         const std::string& stone) {
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
      if (at_end.ok() && at_end->pos == p) return Fork(hello, end, stone, mismatch(*at_end));
    }
    return Fork(hello, end, stone, EndWords(end));
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
      return Fork(hello, end, stone,
                  fmt::format("{} starts at TID {} after chain {:016x}",
                              history.FileName(p.file_id), h->first_tid, h->start_chain));
    }
    return Accepted(b, b);
  }
  if (end.pos < p) return Fork(hello, end, stone, EndWords(end));
  Result<Boundary> b = history.FindBoundary(p, end);
  if (!b.ok()) {
    if (b.status().IsNotFound()) {
      return Gone(
          history, p.file_id,
          fmt::format("which this standby needs next (its archive ends at {})", p.ToString()));
    }
    if (b.status().code() == Status::Code::kInvalidArgument) {
      return Fork(hello, end, stone, b.status().message());
    }
    // Damage on the primary is not the standby's fault: say so plainly.
    return Refused(wire::RefuseCode::kTranlogGone,
                   fmt::format("the primary cannot read {} up to {}: {}",
                               history.FileName(p.file_id), p.ToString(), b.status().message()));
  }
  if (!matches(*b)) return Fork(hello, end, stone, mismatch(*b));
  return Accepted(*b, *b);
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
