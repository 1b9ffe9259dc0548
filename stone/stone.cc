#include "stone/stone.h"

namespace tranship {

Stone::Stone(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
  const EngineOptions& o = engine_->options();
  repository_ = RepositoryInfo{o.stone_name, o.extent_dir, o.tranlog_dirs, o.tranlog_prefix};
  restore_ = std::make_unique<RestoreControl>(this, o.env ? o.env : Env::Default());
}

Result<std::unique_ptr<Stone>> Stone::Open(const EngineOptions& options) {
  Result<std::unique_ptr<Engine>> engine = Engine::Open(options);
  if (!engine.ok()) return engine.status();
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
