#include "engine/mode_changes.h"

#include "base/clock.h"
#include "base/log.h"
#include "tranlog/writer.h"

namespace tranship {

Status ModeChanges::ApplyRestored(
    const std::function<void(StateEdit* state, RestoreProgress* progress)>& fn) {
  std::lock_guard<std::mutex> rl(restore_mu_);
  if (!log_->restoring()) return NotInRestoreModeStatus(opts_.stone_name);
  DurableEnd end = store_->Write([&](StateEdit* state, uint64_t* applied_tid,
                                     RestoreProgress* restore) {
    fn(state, restore);
    *applied_tid = restore->at.tid;
    return restore->at.AsEnd();
  });
  feed_->Publish(end);
  return Status::OK();
}

Result<uint64_t> ModeChanges::Suspend() {
  if (log_->restoring()) return InRestoreModeStatus(opts_.stone_name);
  if (log_->suspended()) return AlreadySuspendedStatus(opts_.stone_name);
  tranlog::Writer* w = log_->writer();
  uint64_t before = w->last_tid();
  log_->set_suspended(true);
  // The failover checkpoint record alone makes the suspension durable (recovery
  // replays it as suspended), so the answer need not wait for the extent, which is
  // written in the background.
  Result<Checkpointer::Started> r = ckpt_->Start(tranlog::kFlagFailover);
  if (w->last_tid() == before) log_->set_suspended(false);  // the record was not written
  if (!r.ok()) return r.status();
  TS_LOG_INFO("commits suspended for failover at TID {}", r->tid);
  return r->tid;
}

Result<uint64_t> ModeChanges::Resume() {
  if (log_->restoring()) return InRestoreModeStatus(opts_.stone_name);
  if (!log_->suspended()) return NotSuspendedStatus(opts_.stone_name);
  tranlog::Writer* w = log_->writer();
  uint64_t tid = w->Add(tranlog::RecordType::kResumeCommits, 0, NowMicros(), Bytes());
  TRANSHIP_RETURN_IF_ERROR(w->Flush());
  log_->set_suspended(false);
  log_->SyncAppliedTid();
  log_->PublishEnd();
  TS_LOG_INFO("commits resumed at TID {}", tid);
  return tid;
}

Result<uint64_t> ModeChanges::CommitRestore(uint64_t file_id) {
  std::lock_guard<std::mutex> rl(restore_mu_);
  if (!log_->restoring()) return NotInRestoreModeStatus(opts_.stone_name);
  RestoredPosition at = store_->restore_progress().at;
  tranlog::WriterOptions wo{env_, opts_.tranlog_dirs, opts_.tranlog_prefix,
                            opts_.tranlog_size_bytes};
  Lineage lineage = Lineage::Random();
  auto w = tranlog::Writer::CreateFile(wo, lineage, file_id, at.tid + 1, at.chain);
  if (!w.ok()) return w.status();
  tranlog::LineageStartPayload ls;
  ls.lineage = lineage;
  ls.parent = at.lineage;
  ls.parent_end = at.pos;
  ls.parent_tid = at.tid;
  std::string payload = tranlog::EncodeLineageStart(ls);
  (*w)->Add(tranlog::RecordType::kLineageStart, 0, NowMicros(), AsBytes(payload));
  TRANSHIP_RETURN_IF_ERROR((*w)->Flush());
  // Done: the durable lineage-start record is the commit-restore (recovery finds it
  // after the restoring extent).
  log_->ReplaceWriter(std::move(*w));
  log_->set_restoring(false);
  log_->set_suspended(false);
  store_->Write([](StateEdit*, uint64_t*, RestoreProgress* restore) { restore->failover_tid = 0; });
  // No checkpoint now, and the periodic one a whole interval from now: copying a large
  // state would hold up the first commits after a failover. Until then recovery finds
  // the restoring extent continued by this file and replays it as a primary.
  ckpt_->RestartInterval();
  log_->SyncAppliedTid();
  log_->PublishEnd();
  log_->writer()->Preallocate();
  TS_LOG_INFO("commit-restore: left restore mode at {}; new lineage {} in tranlog {}",
              at.ToString(), lineage.ToHex(), file_id);
  return log_->writer()->last_tid();
}

Result<uint64_t> ModeChanges::EnterRestore(StateMap* state, const RestoredPosition& pos) {
  std::lock_guard<std::mutex> rl(restore_mu_);
  ckpt_->Join();  // the extent write in progress ends before the state is replaced
  TRANSHIP_RETURN_IF_ERROR(log_->CloseWriter());
  store_->Write([&](StateEdit* s, uint64_t* applied_tid, RestoreProgress* restore) {
    s->Replace(state);
    *restore = RestoreProgress{};
    restore->at = pos;
    *applied_tid = pos.tid;
  });
  log_->set_restoring(true);
  log_->set_suspended(false);
  feed_->Publish(pos.AsEnd());
  TS_LOG_INFO("entered restore mode at {}", pos.ToString());
  return ckpt_->Run();
}

}  // namespace tranship
