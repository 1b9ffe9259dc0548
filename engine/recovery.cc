#include "engine/recovery.h"

#include <optional>

#include <fmt/format.h>

#include "base/log.h"

namespace tranship {

Status ApplyRecord(const tranlog::RecordRef& rec, StateEdit* state) {
  if (rec.header.type != tranlog::RecordType::kCommit) return Status::OK();
  uint64_t tid = rec.header.tid;
  return DecodeCommitPayload(rec.payload, [&](WriteOp::Kind kind, std::string_view key,
                                              std::string_view value) {
    if (kind == WriteOp::Kind::kPut) {
      state->Put(key, value, tid);
    } else {
      state->Erase(key);
    }
  });
}

void NoteRecord(const tranlog::RecordRef& rec, Lineage* lineage, bool* commits_suspended) {
  using tranlog::RecordType;
  switch (rec.header.type) {
    case RecordType::kLineageStart: {
      tranlog::LineageStartPayload p;
      if (tranlog::DecodeLineageStart(rec.payload, &p).ok()) *lineage = p.lineage;
      *commits_suspended = false;
      break;
    }
    case RecordType::kCheckpoint:
      if (rec.header.flags & tranlog::kFlagFailover) *commits_suspended = true;
      break;
    case RecordType::kSuspendCommits: *commits_suspended = true; break;
    case RecordType::kResumeCommits: *commits_suspended = false; break;
    default: break;
  }
}

namespace {

// The fact only: Engine::Open's caller adds the remedy (reason kReasonCannotRecover).
std::string CannotRecover(const std::string& why) {
  return fmt::format("cannot recover: {}", why);
}

// The first file of a commit-restore that ended in restore mode at `eh`, if its
// lineage-start record is durable in the stone's own tranlogs: commit-restore is done once
// that record is, and the extent saying so may not have been written before a crash.
std::optional<uint64_t> InterruptedCommitRestore(const EngineOptions& o, Env* env,
                                                 const ExtentHeader& eh) {
  auto set = tranlog::ListTranlogs(env, o.tranlog_dirs, o.tranlog_prefix);
  if (!set.ok() || set->files.empty()) return std::nullopt;
  // The newest file that begins right after the restored position; files after it
  // continue the new lineage.
  for (auto it = set->files.rbegin(); it != set->files.rend(); ++it) {
    auto r = tranlog::FileReader::Open(env, it->second);
    if (!r.ok()) continue;
    const tranlog::FileHeader& h = (*r)->header();
    if (h.first_tid != eh.tid + 1 || h.start_chain != eh.chain || h.lineage == eh.lineage) continue;
    tranlog::RecordRef rec;
    if ((*r)->Next(&rec) != tranlog::FileReader::Outcome::kRecord ||
        rec.header.type != tranlog::RecordType::kLineageStart) {
      return std::nullopt;
    }
    tranlog::LineageStartPayload ls;
    if (!tranlog::DecodeLineageStart(rec.payload, &ls).ok() || ls.parent != eh.lineage ||
        ls.parent_tid != eh.tid || ls.parent_end != eh.replay_from) {
      return std::nullopt;
    }
    return it->first;
  }
  return std::nullopt;
}

}  // namespace

Result<RecoveredState> Recover(const EngineOptions& o, Env* env) {
  RecoveredState rs;
  tranlog::WriterOptions wo{env, o.tranlog_dirs, o.tranlog_prefix, o.tranlog_size_bytes};

  // 1. The extent.
  std::string extent_path = JoinPath(o.extent_dir, kExtentFileName);
  ExtentHeader eh;
  Position from{1, tranlog::kFileHeaderSize};
  uint64_t chain = 0;
  bool from_extent = env->FileExists(extent_path);
  if (from_extent) {
    TRANSHIP_RETURN_IF_ERROR(ReadExtent(env, extent_path, &eh, &rs.state));
    rs.had_extent = true;
    rs.extent_tid = eh.tid;
    rs.lineage = eh.lineage;
    rs.tid = eh.tid;
    rs.last_commit_us = eh.last_commit_us;
    rs.commits_suspended = (eh.flags & kExtentFlagCommitsSuspended) != 0;
    from = eh.replay_from;
    chain = eh.chain;
    std::optional<uint64_t> committed;
    if (eh.flags & kExtentFlagRestoring) {
      committed = InterruptedCommitRestore(o, env, eh);
    }
    if (committed) {
      TS_LOG_INFO("recovery: the commit-restore at TID {} has no checkpoint of its own yet; "
                  "replaying from tranlog {}, its first file, as a primary", eh.tid, *committed);
      rs.commits_suspended = false;
      from = Position{*committed, tranlog::kFileHeaderSize};
    } else if (eh.flags & kExtentFlagRestoring) {
      // The position is in the archive numbering: the stone's own tranlogs are not part
      // of the restored history.
      rs.restoring = true;
      rs.commits_suspended = false;
      rs.restore.at = RestoredPosition{eh.lineage, eh.replay_from, eh.tid, eh.chain,
                                       eh.last_commit_us};
      rs.restore.failover_tid = (eh.flags & kExtentFlagCommitsSuspended) ? eh.tid : 0;
      rs.end = rs.restore.at.AsEnd();
      return rs;
    }
  }

  // 2. The files.
  auto set = tranlog::ListTranlogs(env, o.tranlog_dirs, o.tranlog_prefix);
  if (!set.ok()) return set.status();
  if (set->files.empty() || set->newest() < from.file_id) {
    return Status::NotFound(CannotRecover(fmt::format(
        "tranlog {} is missing{}", from.file_id,
        from_extent ? " (the extent replays from it)" : " and there is no extent")))
            .WithReason(kReasonCannotRecover);
  }
  for (uint64_t id = from.file_id; id <= set->newest(); id++) {
    if (!set->files.count(id)) {
      return Status::NotFound(CannotRecover(fmt::format(
          "tranlog {} is missing from the sequence {}..{}", id, from.file_id, set->newest())))
              .WithReason(kReasonCannotRecover);
    }
  }

  // 3. Replay.
  uint64_t newest = set->newest();
  tranlog::FileHeader last_header;
  std::string last_path;
  uint64_t end_offset = 0;
  bool ends_with_switch = false;
  bool first_file = true;
  for (uint64_t id = from.file_id; id <= newest; id++) {
    const std::string& path = set->files[id];
    auto r = tranlog::FileReader::Open(env, path);
    if (!r.ok()) {
      // A newest file whose header never reached the disk: the crash came while the
      // previous file was being switched. Recreate it below.
      if (id == newest && ends_with_switch && !r.status().IsNotFound()) {
        TS_LOG_WARN("recovery: {} has no valid header ({}); recreating it", path,
                    r.status().message());
        TRANSHIP_RETURN_IF_ERROR(env->RemoveFile(path));
        break;
      }
      return Status::Corruption(CannotRecover(r.status().message()))
          .WithReason(kReasonCannotRecover);
    }
    tranlog::FileReader& reader = **r;
    const tranlog::FileHeader& h = reader.header();
    if (h.file_id != id) {
      return Status::Corruption(CannotRecover(fmt::format("{} says it is tranlog {}", path, h.file_id)))
          .WithReason(kReasonCannotRecover);
    }
    if (first_file && from_extent) {
      reader.SeekTo(from.offset, rs.tid + 1, chain);
    } else if (!first_file || from_extent) {
      if (h.first_tid != rs.tid + 1 || h.start_chain != chain) {
        return Status::Corruption(CannotRecover(fmt::format(
            "{} offset 0: does not continue tranlog {} (expected TID {}, found {})", path,
            id - 1, rs.tid + 1, h.first_tid))).WithReason(kReasonCannotRecover);
      }
    } else {
      rs.lineage = h.lineage;
    }
    first_file = false;
    ends_with_switch = false;
    tranlog::RecordRef rec;
    tranlog::FileReader::Outcome out;
    while ((out = reader.Next(&rec)) == tranlog::FileReader::Outcome::kRecord) {
      if (ends_with_switch) {
        return Status::Corruption(CannotRecover(fmt::format(
            "{} offset {}: a record follows the log switch", path, rec.pos.offset)))
                .WithReason(kReasonCannotRecover);
      }
      StateEdit edit(&rs.state);
      Status s = ApplyRecord(rec, &edit);
      if (!s.ok()) {
        return Status::Corruption(CannotRecover(
            fmt::format("{} offset {}: {}", path, rec.pos.offset, s.message())))
                .WithReason(kReasonCannotRecover);
      }
      NoteRecord(rec, &rs.lineage, &rs.commits_suspended);
      rs.tid = rec.header.tid;
      rs.last_commit_us = rec.header.timestamp_us;
      rs.records_replayed++;
      if (rec.header.type == tranlog::RecordType::kLogSwitch) ends_with_switch = true;
    }
    if (out == tranlog::FileReader::Outcome::kDamage && reader.damage().zero_tail &&
        id == newest) {
      auto size = env->GetFileSize(path);
      TS_LOG_INFO("recovery: {} ends at offset {}; dropping {} bytes of preallocated space",
                  path, reader.damage().offset, size.ok() ? *size - reader.damage().offset : 0);
    } else if (out == tranlog::FileReader::Outcome::kDamage) {
      const tranlog::Damage& d = reader.damage();
      if (id != newest || d.valid_data_after) {
        return Status::Corruption(CannotRecover(fmt::format(
            "{} offset {}: {}{}", path, d.offset, d.reason,
            d.valid_data_after ? " (valid records follow it)" : "")))
                .WithReason(kReasonCannotRecover);
      }
      auto size = env->GetFileSize(path);
      if (size.ok()) rs.torn_bytes_cut = *size - d.offset;
      TS_LOG_WARN("recovery: cutting a torn tail of {} bytes at {} offset {} ({})",
                  rs.torn_bytes_cut, path, d.offset, d.reason);
    }
    if (id != newest && !ends_with_switch) {
      return Status::Corruption(CannotRecover(fmt::format(
          "{} ends at offset {} without a log switch, but tranlog {} follows", path,
          reader.offset(), id + 1))).WithReason(kReasonCannotRecover);
    }
    if (ends_with_switch && id != newest && !o.restore_mode) {
      // A crash between a log switch and the trimming of the file's preallocated space.
      auto size = env->GetFileSize(path);
      if (size.ok() && *size > reader.offset()) {
        auto f = env->NewWritableFile(path, /*truncate=*/false);
        if (f.ok()) {
          Status t = (*f)->Truncate(reader.offset());
          if (t.ok()) t = (*f)->Sync();
          if (!t.ok()) TS_LOG_WARN("recovery: cannot trim {}: {}", path, t.ToString());
        }
      }
    }
    chain = reader.chain();
    last_header = h;
    last_path = path;
    end_offset = reader.offset();
  }

  // 5. The writer.
  if (!o.restore_mode) {
    Result<std::unique_ptr<tranlog::Writer>> w =
        ends_with_switch
            ? tranlog::Writer::CreateFile(wo, rs.lineage, last_header.file_id + 1, rs.tid + 1, chain)
            : tranlog::Writer::OpenExisting(wo, last_header, last_path, end_offset, rs.tid + 1,
                                            chain);
    if (!w.ok()) return w.status();
    rs.writer = std::move(*w);
    rs.end = DurableEnd{rs.lineage, rs.writer->end(), rs.tid, chain, rs.last_commit_us};
  } else {
    // startstone -R on a primary: restore mode at its own durable end, which is in the
    // numbering of its own files (the archive numbering of its standbys).
    Position at = ends_with_switch ? Position{last_header.file_id + 1, tranlog::kFileHeaderSize}
                                   : Position{last_header.file_id, end_offset};
    rs.restoring = true;
    rs.entered_restore_mode = true;
    rs.restore.at = RestoredPosition{rs.lineage, at, rs.tid, chain, rs.last_commit_us};
    rs.restore.failover_tid = rs.commits_suspended ? rs.tid : 0;
    rs.commits_suspended = false;
    rs.end = rs.restore.at.AsEnd();
  }
  return rs;
}

}  // namespace tranship
