#pragma once
// A stone's repository open for serving: its engine and its restore controller,
// opened and closed in order.
//
// Open: the engine recovers the repository (engine/engine.h); then the restore
// controller (restore/control.h) reads what restore remembered next to the extent and,
// in restore mode, resumes continuous restore if it was on. Close: continuous restore
// ends after its current batch and stays remembered (a restart resumes it); then the
// engine stops cleanly (queued commits, checkpoint, clean marker).
//
// The stone daemon (startstone) opens one and serves it with the StoneServer
// (stone/server.h); offline commands (restore-snapshot) open one for a moment. Restore
// works on the engine through this object's RestoreTarget, never through Engine*.
//
// Thread-safety: as the engine's and the restore controller's methods.

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "restore/control.h"
#include "restore/target.h"

namespace tranship {

// The engine states facts; this adds the operator's remedy to those that name their
// situation (engine/options.h, engine/restore_mode.h: the kReason* words), so that the
// message reads "fact. To fix this ..." as the operator expects. Others pass unchanged.
// restore/control.h's kReason* too; `restore_dirs`, the directories a restore read,
// go into the remedy of a restore stopped at a gap.
Status AddStoneHint(Status s, std::string_view stone,
                    const std::vector<std::string>& restore_dirs = {});
template <typename T>
Result<T> AddStoneHint(Result<T> r, std::string_view stone,
                       const std::vector<std::string>& restore_dirs = {}) {
  if (r.ok()) return r;
  return AddStoneHint(r.status(), stone, restore_dirs);
}

class Stone final : public RestoreTarget {
 public:
  static Result<std::unique_ptr<Stone>> Open(const EngineOptions& options);
  ~Stone() override;
  Stone(const Stone&) = delete;
  Stone& operator=(const Stone&) = delete;

  // The clean stop described above; also done by the destructor if not called.
  Status Close();

  Engine* engine() { return engine_.get(); }
  RestoreControl* restore() { return restore_.get(); }

  // RestoreTarget, over the engine.
  const RepositoryInfo& repository() const override { return repository_; }
  bool in_restore_mode() const override { return engine_->in_restore_mode(); }
  bool commits_suspended() const override { return engine_->stats().commits_suspended; }
  RestoreProgress restore_progress() const override { return engine_->restore_progress(); }
  Status ApplyRestored(
      const std::function<void(StateEdit* state, RestoreProgress* progress)>& fn) override {
    return AddStoneHint(engine_->ApplyRestored(fn), repository_.stone_name);
  }
  uint64_t newest_tranlog_id() const override { return engine_->newest_tranlog_id(); }
  Result<DurableEnd> CommitRestore(uint64_t file_id) override {
    Result<DurableEnd> end = engine_->CommitRestore(file_id);
    if (!end.ok()) return AddStoneHint(end.status(), repository_.stone_name);
    return end;
  }
  Result<StateSnapshot> SnapshotState() override { return engine_->SnapshotState(); }

 private:
  explicit Stone(std::unique_ptr<Engine> engine);

  std::unique_ptr<Engine> engine_;
  RepositoryInfo repository_;
  std::unique_ptr<RestoreControl> restore_;
  bool closed_ = false;
  Status close_status_;
};

}  // namespace tranship
