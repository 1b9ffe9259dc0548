// MemoryPipe: two Transports joined back to back on one loop, for tests of the daemon
// logic. Bytes move by reference (the SharedBuffer itself), and every callback runs
// from a zero-delay timer, never inside the caller's Write(), Start() or Close(), just
// as with a socket. Back-pressure follows the TCP transport: a writer's queue is what
// its peer has not consumed yet (a paused reader consumes nothing).

#include <deque>

#include "wire/transport.h"

namespace tranship::wire {
namespace {

class MemEnd;

// Shared by both ends; freed once both are destroyed and the timer closed.
struct PipeCore {
  uv_timer_t timer;
  MemEnd* ends[2] = {nullptr, nullptr};
  void Schedule() {
    uv_timer_start(&timer, [](uv_timer_t* t) { static_cast<PipeCore*>(t->data)->Pump(); }, 0, 0);
  }
  void Pump();
  void Gone(int side);
};

class MemEnd final : public Transport {
 public:
  MemEnd(PipeCore* core, int side) : core_(core), side_(side) {}
  ~MemEnd() override { core_->Gone(side_); }

  void Start(Callbacks cb) override {
    cb_ = std::move(cb);
    started_ = true;
    ready_pending_ = true;
    core_->Schedule();
  }
  bool Write(SharedBuffer data) override {
    MemEnd* peer = core_->ends[1 - side_];
    if (close_requested_ || notified_ || peer == nullptr || peer->notified_) return true;
    if (!data || data->empty()) return !above_high_water_;
    peer->inbox_bytes_ += data->size();
    peer->inbox_.push_back(std::move(data));
    core_->Schedule();
    if (QueuedBytes() >= kWriteHighWater) above_high_water_ = true;
    return !above_high_water_;
  }
  size_t QueuedBytes() const override {
    MemEnd* peer = core_->ends[1 - side_];
    return peer == nullptr ? 0 : peer->inbox_bytes_;
  }
  void PauseReading() override { paused_ = true; }
  void ResumeReading() override {
    paused_ = false;
    core_->Schedule();
  }
  void Close(const Status& reason) override {
    if (close_requested_ || notified_) return;
    close_requested_ = true;
    close_reason_ = reason;
    core_->Schedule();
  }
  std::string PeerName() const override { return side_ == 0 ? "memory-pipe-b" : "memory-pipe-a"; }
  bool IsTls() const override { return false; }

 private:
  friend struct PipeCore;

  void Notify(const Status& why) {
    if (notified_) return;
    notified_ = true;
    inbox_.clear();
    inbox_bytes_ = 0;
    if (!started_) return;
    auto f = std::move(cb_.on_closed);
    if (f) f(why);  // may destroy this end
  }

  PipeCore* core_;
  int side_;
  Callbacks cb_;
  bool started_ = false;
  bool ready_pending_ = false;
  bool paused_ = false;
  bool close_requested_ = false;
  bool notified_ = false;
  bool above_high_water_ = false;
  Status close_reason_;
  std::deque<SharedBuffer> inbox_;  // written by the peer, not yet delivered here
  size_t inbox_bytes_ = 0;
};

void PipeCore::Pump() {
  for (int i = 0; i < 2; i++) {
    MemEnd* e = ends[i];
    if (e == nullptr || !e->started_ || !e->ready_pending_ || e->notified_) continue;
    e->ready_pending_ = false;
    if (e->cb_.on_ready) e->cb_.on_ready();
  }
  for (int i = 0; i < 2; i++) {
    // Deliver what the peer wrote, one buffer per on_data, while this end reads.
    while (ends[i] != nullptr && ends[i]->started_ && !ends[i]->paused_ && !ends[i]->notified_ &&
           !ends[i]->ready_pending_ && !ends[i]->inbox_.empty()) {
      MemEnd* e = ends[i];
      SharedBuffer b = std::move(e->inbox_.front());
      e->inbox_.pop_front();
      e->inbox_bytes_ -= b->size();
      if (e->cb_.on_data) e->cb_.on_data(*b);
    }
    MemEnd* writer = ends[1 - i];
    if (writer != nullptr && writer->above_high_water_ && writer->QueuedBytes() <= kWriteLowWater &&
        !writer->notified_ && !writer->close_requested_) {
      writer->above_high_water_ = false;
      if (writer->started_ && writer->cb_.on_writable) writer->cb_.on_writable();
    }
  }
  for (int i = 0; i < 2; i++) {
    MemEnd* e = ends[i];
    if (e == nullptr || e->notified_) continue;
    MemEnd* peer = ends[1 - i];
    if (peer == nullptr) {
      e->Notify(Status::Aborted("the peer at the other end of the memory pipe is gone"));
      continue;
    }
    // A Close() completes once the peer has taken everything written before it.
    if (e->close_requested_ && (peer->inbox_.empty() || peer->notified_)) {
      Status reason = e->close_reason_;
      e->Notify(reason);
      if (ends[1 - i] != nullptr) {
        ends[1 - i]->Notify(Status::Aborted("the peer closed the connection"));
      }
    }
  }
}

void PipeCore::Gone(int side) {
  ends[side] = nullptr;
  if (ends[1 - side] != nullptr) {
    Schedule();  // the other end hears of it from the loop
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer),
           [](uv_handle_t* h) { delete static_cast<PipeCore*>(h->data); });
}

}  // namespace

std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> MemoryPipe(uv_loop_t* loop) {
  auto* core = new PipeCore;
  uv_timer_init(loop, &core->timer);
  core->timer.data = core;
  auto a = std::make_unique<MemEnd>(core, 0);
  auto b = std::make_unique<MemEnd>(core, 1);
  core->ends[0] = a.get();
  core->ends[1] = b.get();
  return {std::move(a), std::move(b)};
}

}  // namespace tranship::wire
