#include "restore/continuous.h"

#include <pthread.h>

#include <chrono>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"

namespace tranship {

ContinuousRestore::ContinuousRestore(RestoreTarget* target, Env* env, ArchiveSource source,
                                     std::function<void(const ContinuousState&)> on_end,
                                     uint64_t pending_failover_tid)
    : target_(target), source_(source), replayer_(target, env, std::move(source)),
      on_end_(std::move(on_end)), pending_failover_tid_(pending_failover_tid) {}

ContinuousRestore::~ContinuousRestore() {
  RequestStop(false);
  Join();
}

void ContinuousRestore::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    state_.running = true;
  }
  thread_ = std::thread([this] { Run(); });
}

void ContinuousRestore::Wake() {
  {
    std::lock_guard<std::mutex> l(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void ContinuousRestore::RequestStop(bool finish) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (finish) stop_finish_ = true;
    else stop_now_ = true;
  }
  cv_.notify_one();
}

void ContinuousRestore::Join() {
  if (thread_.joinable()) thread_.join();
}

ContinuousState ContinuousRestore::state() const {
  std::lock_guard<std::mutex> l(mu_);
  return state_;
}

void ContinuousRestore::Run() {
  pthread_setname_np(pthread_self(), "tranship-restore");
  ContinuousState end;
  for (;;) {
    ArchiveReplayer::Step step = replayer_.Next(kBatchRecords);
    std::unique_lock<std::mutex> l(mu_);
    state_.applied = replayer_.applied();
    state_.files = replayer_.files_opened();
    state_.file = replayer_.current_file();
    if (stop_now_) {
      state_.running = false;
      state_.requested = true;
      state_.why = "stopped with the stone";
      return;  // remembered: the stone resumes continuous restore when it starts again
    }
    if (step == ArchiveReplayer::Step::kProgress) {
      state_.caught_up = false;
      continue;
    }
    if (step == ArchiveReplayer::Step::kStopped) {
      state_.stop = replayer_.stop();
      state_.why = replayer_.why();
      state_.missing = replayer_.missing();
      break;
    }
    state_.caught_up = true;
    state_.caught_up_us = NowMicros();
    RestoreProgress p = target_->restore_progress();
    if (p.failover_tid != 0 && p.failover_tid != pending_failover_tid_) {
      state_.failover = true;
      state_.why = fmt::format(
          "replayed the failover checkpoint at TID {} (suspend-commits on the primary) and no "
          "resume-commits after it; run 'commit-restore' to make this stone the primary, or "
          "'continuous-restore' again to keep following the primary",
          p.failover_tid);
      break;
    }
    if (stop_finish_) {
      state_.requested = true;
      state_.why = "stopped by stop-continuous-restore after every complete record present";
      break;
    }
    cv_.wait_for(l, std::chrono::milliseconds(kPollMs),
                 [&] { return woken_ || stop_finish_ || stop_now_; });
    woken_ = false;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    end = state_;
    end.running = false;
  }
  TS_LOG_INFO("continuous restore ended: {}", end.why);
  // Before `running` turns false: whoever sees it ended also sees what on_end_ recorded.
  if (on_end_) on_end_(end);
  std::lock_guard<std::mutex> l(mu_);
  state_.running = false;
}

}  // namespace tranship
