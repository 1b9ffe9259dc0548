#include "restore/archive.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "restore/apply.h"

namespace tranship {

const char* ReplayStopName(ReplayStop s) {
  switch (s) {
    case ReplayStop::kNone: return "none";
    case ReplayStop::kEndOfFiles: return "end of the available files";
    case ReplayStop::kEndOfFile: return "end of file";
    case ReplayStop::kGap: return "gap";
    case ReplayStop::kFork: return "fork in time";
    case ReplayStop::kDamage: return "damage";
    case ReplayStop::kError: return "error";
  }
  return "?";
}

ArchiveReplayer::ArchiveReplayer(RestoreTarget* target, Env* env, ArchiveSource source,
                                 uint64_t to_end_of_log)
    : target_(target), env_(env), source_(std::move(source)), to_end_of_log_(to_end_of_log) {}

bool ArchiveReplayer::failover_pending() const {
  return target_->restore_progress().failover_tid != 0;
}

std::string ArchiveReplayer::Find(uint64_t file_id) const {
  for (const std::string& dir : source_.dirs) {
    std::string path = JoinPath(dir, Name(file_id));
    if (env_->FileExists(path)) return path;
  }
  return std::string();
}

ArchiveReplayer::Step ArchiveReplayer::Stop(ReplayStop kind, std::string why) {
  stop_ = kind;
  why_ = std::move(why);
  reader_.reset();
  return Step::kStopped;
}

// Opens the file that holds the record after `at`: the file of the restored position if
// the archive has it, otherwise the next file the archive has, provided its header
// continues the restored history (a new lineage's first file may skip ids).
ArchiveReplayer::Step ArchiveReplayer::Open(const RestoredPosition& at) {
  uint64_t want = std::max(at.pos.file_id, min_next_file_);
  if (to_end_of_log_ != 0 && want > to_end_of_log_) {
    return Stop(ReplayStop::kEndOfFile, fmt::format("end of {}", Name(to_end_of_log_)));
  }
  uint64_t id = want;
  std::string path = Find(want);
  if (path.empty()) {
    auto set = tranlog::ListTranlogs(env_, source_.dirs, source_.prefix);
    if (!set.ok()) return Stop(ReplayStop::kError, set.status().message());
    auto it = set->files.upper_bound(want);
    if (it == set->files.end()) return Step::kCaughtUp;
    id = it->first;
    path = it->second;
  }
  auto size = env_->GetFileSize(path);
  if (size.ok() && *size < tranlog::kFileHeaderSize) {
    // Created, header not written yet (a logreceiver between create and write).
    return Step::kCaughtUp;
  }
  auto r = tranlog::FileReader::Open(env_, path);
  if (!r.ok()) return Stop(ReplayStop::kDamage, r.status().message());
  const tranlog::FileHeader& h = (*r)->header();
  if (h.file_id != id) {
    return Stop(ReplayStop::kDamage, fmt::format("{} says it is tranlog {}", path, h.file_id));
  }
  if (h.first_tid > at.tid + 1) {
    missing_ = id == want ? fmt::format("the records of TIDs {} to {} (before {})", at.tid + 1,
                                        h.first_tid - 1, Name(id))
               : id == want + 1 ? Name(want)
                                : fmt::format("{} to {}", Name(want), Name(id - 1));
    return Stop(ReplayStop::kGap,
                fmt::format("gap: {} is missing; the stone is at TID {} ({}) and {} starts at "
                            "TID {}",
                            missing_, at.tid, at.pos.ToString(), path, h.first_tid));
  }
  if (h.first_tid == at.tid + 1 && h.start_chain != at.chain) {
    return Stop(ReplayStop::kFork,
                fmt::format("fork in time: {} continues lineage {} after TID {} with chain "
                            "{:016x}, but the stone holds lineage {} at TID {} with chain {:016x}",
                            path, h.lineage.ToHex(), at.tid, h.start_chain, at.lineage.ToHex(),
                            at.tid, at.chain));
  }
  if (h.first_tid <= at.tid && h.lineage != at.lineage) {
    // Every record of a file is of its header's lineage: this file cannot hold the
    // stone's record at TID t.
    return Stop(ReplayStop::kFork,
                fmt::format("fork in time: {} holds TIDs from {} of lineage {}, but the stone "
                            "holds lineage {} at TID {} ({})",
                            path, h.first_tid, h.lineage.ToHex(), at.lineage.ToHex(), at.tid,
                            at.pos.ToString()));
  }
  reader_ = std::move(*r);
  reader_file_id_ = id;
  min_next_file_ = 0;
  end_seen_once_ = false;
  files_opened_++;
  TS_LOG_DEBUG("restore: reading {} from TID {}", path, at.tid + 1);
  return Step::kProgress;
}

ArchiveReplayer::Step ArchiveReplayer::Next(size_t max_records) {
  if (stop_ != ReplayStop::kNone) return Step::kStopped;
  if (!reader_) {
    Step s = Open(target_->restore_progress().at);
    if (s != Step::kProgress) return s;
  }
  enum class Ended { kNo, kLogSwitch, kEnd, kBad };
  Ended ended = Ended::kNo;
  size_t n = 0;
  ApplyVerdict bad = ApplyVerdict::kApplied;
  std::string bad_why;
  uint64_t next_file = 0;
  tranlog::FileReader::Outcome out = tranlog::FileReader::Outcome::kRecord;
  Status st = target_->ApplyRestored([&](StateEdit* state, RestoreProgress* progress) {
    RestoreApplier a(progress, state);
    tranlog::RecordRef rec;
    while (n < max_records) {
      out = reader_->Next(&rec);
      if (out != tranlog::FileReader::Outcome::kRecord) {
        ended = Ended::kEnd;
        return;
      }
      n++;
      ApplyVerdict v = a.Apply(rec, reader_->offset());
      if (v == ApplyVerdict::kApplied) {
        applied_++;
      } else if (v == ApplyVerdict::kSkipped) {
        skipped_++;
      } else {
        bad = v;
        bad_why = a.why();
        ended = Ended::kBad;
        return;
      }
      if (rec.header.type == tranlog::RecordType::kLogSwitch) {
        tranlog::LogSwitchPayload ls;
        if (tranlog::DecodeLogSwitch(rec.payload, &ls).ok()) next_file = ls.next_file_id;
        ended = Ended::kLogSwitch;
        return;
      }
    }
  });
  if (!st.ok()) return Stop(ReplayStop::kError, st.message());
  if (n > 0) end_seen_once_ = false;
  switch (ended) {
    case Ended::kNo:
      return Step::kProgress;
    case Ended::kBad:
      if (bad == ApplyVerdict::kGap) missing_ = "records before " + bad_why;
      if (bad == ApplyVerdict::kFork) {
        bad_why += fmt::format("; {} is of lineage {}", reader_->path(),
                               reader_->header().lineage.ToHex());
      }
      return Stop(bad == ApplyVerdict::kFork  ? ReplayStop::kFork
                  : bad == ApplyVerdict::kGap ? ReplayStop::kGap
                                              : ReplayStop::kDamage,
                  bad_why);
    case Ended::kLogSwitch: {
      uint64_t done = reader_file_id_;
      reader_.reset();
      // A file whose records all lie before the position: go on with the next one.
      min_next_file_ = next_file;
      if (to_end_of_log_ != 0 && done >= to_end_of_log_) {
        return Stop(ReplayStop::kEndOfFile, fmt::format("end of {}", Name(done)));
      }
      return Step::kProgress;
    }
    case Ended::kEnd:
      break;
  }
  // The end of what the file holds now. Damage with valid records after it is
  // corruption; anything else (the file's end, an incomplete record, preallocated
  // zeros) is where the complete records end for now.
  if (out == tranlog::FileReader::Outcome::kDamage && reader_->damage().valid_data_after) {
    const tranlog::Damage& d = reader_->damage();
    return Stop(ReplayStop::kDamage, fmt::format("{} offset {}: {} (valid records follow it)",
                                                 reader_->path(), d.offset, d.reason));
  }
  if (to_end_of_log_ != 0 && reader_file_id_ >= to_end_of_log_) {
    return Stop(ReplayStop::kEndOfFile, fmt::format("end of {}", Name(reader_file_id_)));
  }
  // A file without a log switch is the newest one of its lineage: a later file means
  // its end is missing. Looked at twice, because the writer may have just added the log
  // switch. A later file that continues the restored history exactly (a new lineage's
  // first file, which may skip ids: a junction) is where the history goes on.
  // Listing the directories is cheap but not free, and a caught-up continuous restore
  // comes here every 100 ms: a later id than the next one is looked for once a second.
  const uint64_t now = MonotonicNanos();
  if (!Find(reader_file_id_ + 1).empty() || now >= next_listing_ns_) {
    next_listing_ns_ = now + 1000000000ull;
    const RestoredPosition at = target_->restore_progress().at;
    auto set = tranlog::ListTranlogs(env_, source_.dirs, source_.prefix);
    if (set.ok()) {
      auto next = set->files.upper_bound(reader_file_id_);
      if (next != set->files.end()) {
        auto h = tranlog::FileReader::Open(env_, next->second);
        if (h.ok() && (*h)->header().first_tid == at.tid + 1 &&
            (*h)->header().start_chain == at.chain && (*h)->header().lineage != at.lineage) {
          TS_LOG_INFO("restore: {} ends at TID {}; the history goes on in {} (lineage {})",
                      reader_->path(), at.tid, next->second, (*h)->header().lineage.ToHex());
          reader_.reset();
          min_next_file_ = next->first;
          return Step::kProgress;
        }
      }
    }
  }
  if (!Find(reader_file_id_ + 1).empty()) {
    if (!end_seen_once_) {
      end_seen_once_ = true;
      return Step::kProgress;
    }
    return Stop(ReplayStop::kDamage,
                fmt::format("{} ends at offset {} without a log switch, but {} follows it",
                            reader_->path(), reader_->offset(), Name(reader_file_id_ + 1)));
  }
  return Step::kCaughtUp;
}

}  // namespace tranship
