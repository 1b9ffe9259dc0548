#include "stone/stone.h"

#include <fmt/format.h>

namespace tranship {

Stone::Stone(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
  const EngineOptions& o = engine_->options();
  repository_ = RepositoryInfo{o.stone_name, o.extent_dir, o.tranlog_dirs, o.tranlog_prefix};
  restore_ = std::make_unique<RestoreControl>(this, o.env ? o.env : Env::Default());
}

Status AddStoneHint(Status s, std::string_view stone,
                    const std::vector<std::string>& restore_dirs) {
  std::string_view reason = s.reason();
  if (reason == std::string_view(kReasonCannotRecover)) {
    return std::move(s).WithHint(
        "To fix this run 'tranship tranlog verify' on the tranlog directory and restore the "
        "damaged file from a copy, or restore the stone from a backup");
  }
  if (reason == std::string_view(kReasonNotInRestoreMode)) {
    return std::move(s).WithHint(
        fmt::format("To restore into it restart it with 'startstone {} -R'", stone));
  }
  if (reason == std::string_view(kReasonNoTranlogsInRestoreMode)) {
    return std::move(s).WithHint(fmt::format("until 'tranship admin {} commit-restore'", stone),
                                 " ");
  }
  if (reason == std::string_view(kReasonInRestoreMode)) {
    return std::move(s).WithHint(fmt::format("until 'tranship admin {} commit-restore'", stone),
                                 " ");
  }
  if (reason == std::string_view(kReasonCommitsSuspended)) {
    return std::move(s).WithHint(
        fmt::format("to accept commits again run 'tranship admin {} resume-commits'", stone),
        "; ");
  }
  if (reason == std::string_view(kReasonInContinuousRestore)) {
    return std::move(s).WithHint(
        fmt::format("To fix this run 'tranship admin {} stop-continuous-restore' first", stone));
  }
  if (reason == std::string_view(kReasonAlreadyInContinuousRestore)) {
    return std::move(s).WithHint(
        fmt::format("To change it run 'tranship admin {} stop-continuous-restore' first", stone));
  }
  if (reason == std::string_view(kReasonLogreceiverLoggedIn)) {
    return std::move(s).WithHint(
        fmt::format("To fix this stop it first (stoplogreceiver -P PORT -s {})", stone));
  }
  if (reason == std::string_view(kReasonUnacceptedGap)) {
    return std::move(s).WithHint(fmt::format(
        "To fix this restore the missing tranlog (restore-from-archive-logs), or accept the "
        "loss with 'tranship admin {} commit-restore --accept-gap'",
        stone));
  }
  if (reason == std::string_view(kReasonRestoreStoppedAtGap)) {
    std::string dirs;
    for (const std::string& d : restore_dirs) dirs += (dirs.empty() ? "" : " ") + d;
    return std::move(s).WithHint(fmt::format(
        "To fix this copy the missing tranlog into {} and run the restore again, or accept "
        "the loss with 'tranship admin {} commit-restore --accept-gap'",
        dirs, stone));
  }
  if (reason == std::string_view(kReasonRestoreStoppedAtDamage)) {
    return std::move(s).WithHint(
        "To fix this run 'tranship tranlog verify' on the archive and replace the damaged "
        "file with a good copy");
  }
  if (reason == std::string_view(kReasonAlreadySuspended)) {
    return std::move(s).WithHint(
        fmt::format("to resume them run 'tranship admin {} resume-commits'", stone), "; ");
  }
  return s;
}

Result<std::unique_ptr<Stone>> Stone::Open(const EngineOptions& options) {
  Result<std::unique_ptr<Engine>> engine = Engine::Open(options);
  if (!engine.ok()) return AddStoneHint(engine.status(), options.stone_name);
  std::unique_ptr<Stone> stone(new Stone(std::move(*engine)));
  if (stone->engine_->in_restore_mode()) stone->restore_->ResumeAfterOpen();
  return stone;
}

Stone::~Stone() { (void)Close(); }

Status Stone::Close() {
  if (closed_) return close_status_;
  closed_ = true;
  restore_->Shutdown();
  close_status_ = engine_->Close();
  return close_status_;
}

}  // namespace tranship
