// The daemon loop (see daemon.h): signals and ticks on one libuv loop, stopped once.
#include "daemon/daemon.h"

#include <signal.h>

#include <utility>

#include <fmt/format.h>

#include "base/log.h"

namespace tranship::daemon {

struct DaemonLoop::Handle {
  union {
    uv_handle_t handle;
    uv_signal_t signal;
    uv_timer_t timer;
  } uv;
  DaemonLoop* owner = nullptr;
  std::function<void()> tick;
};

DaemonLoop::DaemonLoop(std::string what) : what_(std::move(what)) { uv_loop_init(&loop_); }

DaemonLoop::~DaemonLoop() {
  if (!closed_) Close(Abandon::kNoWait);
}

void DaemonLoop::OnStop(std::function<void(const std::string& why)> on_stop) {
  on_stop_ = std::move(on_stop);
}

void DaemonLoop::Stop(const std::string& why) {
  if (stopped_) return;
  stopped_ = true;
  if (on_stop_) on_stop_(why);
  CloseHandles();
}

void DaemonLoop::WatchSignals() {
  for (int signum : {SIGTERM, SIGINT}) {
    Handle* h = new Handle;
    h->owner = this;
    uv_signal_init(&loop_, &h->uv.signal);
    h->uv.handle.data = h;
    uv_signal_start(&h->uv.signal, [](uv_signal_t* s, int sig) {
      static_cast<Handle*>(s->data)->owner->Stop(
          fmt::format("stop requested ({})", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    }, signum);
    handles_.push_back(h);
  }
}

void DaemonLoop::Every(uint64_t period_ms, std::function<void()> tick) {
  Handle* h = new Handle;
  h->owner = this;
  h->tick = std::move(tick);
  uv_timer_init(&loop_, &h->uv.timer);
  h->uv.handle.data = h;
  uv_timer_start(&h->uv.timer, [](uv_timer_t* t) { static_cast<Handle*>(t->data)->tick(); },
                 period_ms, period_ms);
  handles_.push_back(h);
}

void DaemonLoop::CloseHandles() {
  for (Handle* h : handles_) {
    uv_close(&h->uv.handle, [](uv_handle_t* u) { delete static_cast<Handle*>(u->data); });
  }
  handles_.clear();
}

void DaemonLoop::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  closed_ = true;
  if (uv_loop_close(&loop_) != 0) {
    TS_LOG_ERROR("{}: a libuv handle was left open at exit", what_);
  }
}

void DaemonLoop::Close(Abandon how) {
  CloseHandles();
  uv_run(&loop_, how == Abandon::kDrain ? UV_RUN_DEFAULT : UV_RUN_NOWAIT);
  closed_ = true;
  uv_loop_close(&loop_);
}

}  // namespace tranship::daemon
