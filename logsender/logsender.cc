#include "logsender/logsender.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "logsender/build_job.h"
#include "logsender/handshake.h"
#include "wire/batch.h"

namespace tranship::logsender {
namespace {
constexpr uint64_t kMsNs = 1000000;
// Connections that have not said Hello yet cost a little memory each; more than this
// many at once is not a standby fleet but a flood. The oldest of them is dropped for
// each new one: a real receiver says Hello as soon as it is connected, so a flood of
// silent connections pushes out only its own, while dropping the newest would lock
// every real receiver out for as long as the flood goes on.
constexpr size_t kMaxStartupSessions = 64;
}  // namespace

LogSender::LogSender(uv_loop_t* loop, LogSenderOptions options)
    : loop_(loop),
      opts_(std::move(options)),
      env_(opts_.env ? opts_.env : Env::Default()),
      history_(env_, opts_.tranlog_dirs, opts_.prefix),
      disk_(env_, opts_.tranlog_dirs, opts_.prefix),
      cache_(opts_.cache_bytes) {
  if (opts_.bandwidth_bytes_per_s > 0) {
    // With a bandwidth limit, smaller frames keep the rate smooth: a quarter second each.
    uint64_t quarter = std::max<uint64_t>(opts_.bandwidth_bytes_per_s / 4, 64 << 10);
    opts_.frame_target = static_cast<uint32_t>(std::min<uint64_t>(opts_.frame_target, quarter));
  }
}

LogSender::~LogSender() { assert(!started_ || (stopping_ && open_handles_ == 0)); }

Status LogSender::Start() {
  TRANSHIP_RETURN_IF_ERROR(history_.Refresh());
  if (history_.newest() == 0) {
    return Status::NotFound(
        fmt::format("There are no tranlog files ({}N.dbf) in {}. To fix this give -T the tranlog "
                    "directories of the stone '{}'.",
                    opts_.prefix, fmt::join(opts_.tranlog_dirs, ", "), opts_.stone));
  }
  Result<DurableEnd> end = disk_.Scan();
  if (!end.ok()) return end.status();
  end_ = *end;
  started_ = true;
  uv_timer_init(loop_, &tick_);
  uv_timer_init(loop_, &reaper_);
  tick_.data = reaper_.data = this;
  open_handles_ = 2;
  if (!opts_.stone_socket.empty()) {
    StoneFollower::Callbacks cb;
    cb.on_end = [this](const DurableEnd& e) { OnDurableEnd(e, true); };
    cb.on_link = [this](bool up) {
      if (!up) next_disk_scan_ns_ = 0;  // take the end from disk right away
      PublishStatus();
    };
    follower_ =
        std::make_unique<StoneFollower>(loop_, opts_.stone, opts_.stone_socket, std::move(cb));
    follower_->Start();
  } else {
    follower_closed_ = true;
  }
  uv_timer_start(
      &tick_, [](uv_timer_t* t) { static_cast<LogSender*>(t->data)->Tick(); }, kTickMs, kTickMs);
  TS_LOG_INFO(
      "logsender for the stone '{}': tranlogs {} to {} in {}; durable end on disk {} "
      "(TID {}, lineage {})",
      opts_.stone, history_.oldest(), history_.newest(), fmt::join(opts_.tranlog_dirs, ", "),
      end_.pos.ToString(), end_.tid, end_.lineage.ToHex());
  PublishStatus();
  return Status::OK();
}

// ---- the main loop ----

void LogSender::Tick() {
  uint64_t now = MonotonicNanos();
  CheckTimeouts(now);
  SendKeepalives(now);
  FollowStone(now);
  SendDataToAll();
  if (now >= next_status_ns_) PublishStatus();
}

void LogSender::CheckTimeouts(uint64_t now) {
  std::vector<ReceiverSession*> silent;
  for (auto& [id, s] : sessions_) {
    const uint64_t limit = wire::SilenceLimitMs(opts_.timeout_ms, s->pending_frame_length()) * kMsNs;
    if (s->state() != ReceiverState::kStopping && now - s->last_received_ns() > limit) {
      silent.push_back(s.get());
    }
  }
  for (ReceiverSession* s : silent) {
    stats_.dropped++;
    s->Drop(
        s->state() == ReceiverState::kStartup
            ? fmt::format("it sent no Hello within {:.1f} s", opts_.timeout_ms / 1000.0)
            : fmt::format("it sent no complete frame for {:.1f} s (the timeout)",
                          opts_.timeout_ms / 1000.0));
  }
}

void LogSender::SendKeepalives(uint64_t now) {
  for (auto& [id, s] : sessions_) {
    if (s->welcomed() && now - s->last_sent_ns() >= uint64_t{opts_.keepalive_ms} * kMsNs) {
      s->SendKeepalive(end_, now);
    }
  }
}

void LogSender::FollowStone(uint64_t now) {
  if (follower_ && follower_->subscribed()) return;
  if (now < next_disk_scan_ns_) return;
  next_disk_scan_ns_ = now + uint64_t{opts_.disk_poll_ms} * kMsNs;
  Result<DurableEnd> end = disk_.Scan();
  if (!end.ok()) {
    if (end.status().message() != last_disk_error_) {
      TS_LOG_ERROR("cannot find the durable end on disk: {}", end.status().ToString());
      last_disk_error_ = end.status().message();
    }
    return;
  }
  last_disk_error_.clear();
  OnDurableEnd(*end, false);
}

// ---- accept and handshake ----

void LogSender::Accept(std::unique_ptr<wire::Transport> transport) {
  uint64_t id = next_session_id_++;
  auto session = std::make_unique<ReceiverSession>(id, std::move(transport), this,
                                                   opts_.bandwidth_bytes_per_s, MonotonicNanos());
  ReceiverSession* s = session.get();
  sessions_[id] = std::move(session);
  TS_LOG_DEBUG("connection from {}", s->peer());
  s->Start();
  if (stopping_) {
    s->Refuse({wire::RefuseCode::kShuttingDown, "this logsender is stopping"});
    return;
  }
  size_t startup = 0;
  ReceiverSession* oldest = nullptr;  // sessions_ is ordered by id: the first is oldest
  for (auto& [sid, other] : sessions_) {
    if (other->state() != ReceiverState::kStartup) continue;
    if (oldest == nullptr) oldest = other.get();
    startup++;
  }
  if (startup > kMaxStartupSessions && oldest != s) {
    stats_.dropped++;
    oldest->Drop(fmt::format("{} connections are waiting for their Hello; the oldest goes",
                             startup));
  }
}

void LogSender::OnHello(ReceiverSession* s, const wire::Hello& hello) {
  TS_LOG_DEBUG("Hello from {}: standby '{}' on {}, mode {}, resume {} TID {}", s->peer(),
               hello.receiver_stone, hello.receiver_host, static_cast<int>(hello.mode),
               hello.resume.ToString(), hello.resume_tid);
  std::vector<std::string> served;
  for (auto& [id, other] : sessions_) {
    if (other->welcomed()) served.push_back(other->Describe());
  }
  if (served.size() >= opts_.max_receivers) {
    stats_.refused++;
    s->Refuse(TooManyReceivers(opts_.max_receivers, served));
    return;
  }
  HandshakeDecision d = CheckHello(hello, history_, end_, opts_.stone);
  if (!d.accepted) {
    stats_.refused++;
    s->Refuse(d.refuse);
    return;
  }
  wire::Welcome w;
  w.sender_stone = opts_.stone;
  w.start = d.start.pos;
  w.primary_end = end_;
  w.keepalive_ms = opts_.keepalive_ms;
  w.timeout_ms = opts_.timeout_ms;
  uint64_t behind = history_.Distance(d.start.pos, end_.pos);
  // A receiver starting from scratch or after a TID names no lineage: its stream is in
  // the lineage of the file it starts with.
  Lineage lineage = hello.lineage;
  if (lineage.IsZero()) {
    if (Result<tranlog::FileHeader> h = history_.Header(d.start.pos.file_id); h.ok()) {
      lineage = h->lineage;
    }
  }
  s->Welcome(w, d.start, d.acked, lineage,
             behind > kStreamingBytes ? ReceiverState::kCatchUp : ReceiverState::kStreaming);
  SendData(s);
}

// ---- sending ----

void LogSender::SendDataToAll() {
  std::vector<ReceiverSession*> live;
  for (auto& [id, s] : sessions_) live.push_back(s.get());
  for (ReceiverSession* s : live) SendData(s);
}

void LogSender::SendData(ReceiverSession* s) {
  if (stopping_) return;
  uint64_t now = MonotonicNanos();
  while (s->CanSend(now, opts_.window_bytes)) {
    if (const CurrentHistory* cur = Current()) {
      // The current history leaves this lineage here: go on at the child's first file.
      if (std::optional<Junction> j = cur->JunctionAt(s->cursor())) s->Jump(j->next, j->child);
    }
    const Boundary at = s->cursor();
    if (!(at.pos < end_.pos)) break;  // caught up: wait for the end to move
    if (std::shared_ptr<const BuiltFrame> f = cache_.Find(at.pos)) {
      stats_.frames_sent++;
      stats_.bytes_sent += f->bytes->size();
      s->SendFrame(f, now);
      UpdateStreamingState(s);
      continue;
    }
    auto nothing = nothing_until_.find(at.pos);
    if (nothing != nothing_until_.end() && nothing->second == end_.pos) break;
    StartBuild(s);
    break;
  }
}

void LogSender::UpdateStreamingState(ReceiverSession* s) {
  uint64_t behind = history_.Distance(s->cursor().pos, end_.pos);
  if (s->state() == ReceiverState::kCatchUp && behind <= kStreamingBytes) {
    s->SetState(ReceiverState::kStreaming,
                fmt::format("{} bytes behind the primary's durable end", behind));
  } else if (s->state() == ReceiverState::kStreaming && behind > kCatchUpBytes) {
    s->SetState(ReceiverState::kCatchUp,
                fmt::format("fell {} bytes behind the primary's durable end", behind));
  }
}

// ---- sessions ----

void LogSender::OnSendable(ReceiverSession* s) { SendData(s); }

void LogSender::OnStateChanged(ReceiverSession*) { PublishStatus(); }

void LogSender::OnClosed(ReceiverSession* s) {
  auto it = sessions_.find(s->id());
  if (it == sessions_.end()) return;
  // Freed on the next loop iteration: the transport is still inside its callback.
  closed_.push_back(std::move(it->second));
  sessions_.erase(it);
  uv_timer_start(
      &reaper_, [](uv_timer_t* t) { static_cast<LogSender*>(t->data)->ReapClosed(); }, 0, 0);
}

void LogSender::ReapClosed() {
  closed_.clear();
  PublishStatus();
  MaybeFinishStop();
}

// ---- status ----

ReceiverStatus LogSender::DescribeReceiver(ReceiverSession* s) {
  ReceiverStatus r;
  r.peer = s->peer();
  r.stone = s->stone();
  r.state = ToString(s->state());
  r.sent = s->cursor().pos;
  if (const std::optional<Boundary>& a = s->acked()) {
    r.has_acked = true;
    r.acked = a->pos;
    r.acked_tid = a->next_tid - 1;
    r.lag_bytes = history_.Distance(a->pos, end_.pos);
    if (!(a->pos < end_.pos)) {
      r.lag_seconds = 0.0;
    } else if (a->last_commit_us != 0 && end_.commit_time_us >= a->last_commit_us) {
      r.lag_seconds = static_cast<double>(end_.commit_time_us - a->last_commit_us) / 1e6;
    }
  } else if (s->welcomed()) {
    r.lag_bytes = history_.Distance(s->cursor().pos, end_.pos) + s->unacked_bytes();
  }
  return r;
}

SenderStatus LogSender::Snapshot() {
  SenderStatus st;
  st.stone = opts_.stone;
  st.tls = opts_.tls;
  st.stone_connected = follower_ && follower_->subscribed();
  st.primary_end = end_;
  for (auto& [id, s] : sessions_) st.receivers.push_back(DescribeReceiver(s.get()));
  st.frames_built = stats_.frames_built;
  st.frames_sent = stats_.frames_sent;
  st.cache_hits = stats_.frames_sent - std::min(stats_.frames_sent, stats_.frames_built);
  st.frames_uncompressed = stats_.frames_uncompressed;
  st.zstd_level = DescribeZstdLevel(opts_.zstd_level);
  st.bytes_sent = stats_.bytes_sent;
  st.refused_connections = stats_.refused_connections;
  st.dropped_sessions = stats_.dropped;
  return st;
}

void LogSender::PublishStatus() {
  next_status_ns_ = MonotonicNanos() + 1000 * kMsNs;
  if (opts_.on_status) opts_.on_status(Snapshot());
}

// ---- stop ----

void LogSender::Stop(const std::string& reason, std::function<void()> done) {
  if (!started_) {
    if (done) done();
    return;
  }
  if (stopping_) return;
  stopping_ = true;
  on_stopped_ = std::move(done);
  TS_LOG_INFO("logsender for the stone '{}' stopping: {}", opts_.stone, reason);
  uv_timer_stop(&tick_);
  std::vector<ReceiverSession*> live;
  for (auto& [id, s] : sessions_) live.push_back(s.get());
  for (ReceiverSession* s : live) {
    s->Refuse({wire::RefuseCode::kShuttingDown,
               fmt::format("the logsender for the stone '{}' is stopping ({}); the logreceiver "
                           "reconnects when it runs again",
                           opts_.stone, reason)});
  }
  if (follower_) {
    follower_->Close([this] {
      follower_closed_ = true;
      MaybeFinishStop();
    });
  }
  MaybeFinishStop();
}

void LogSender::MaybeFinishStop() {
  if (!stopping_ || !sessions_.empty() || !closed_.empty() || jobs_in_flight_ > 0 ||
      !follower_closed_ || closing_handles_) {
    return;
  }
  closing_handles_ = true;
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<LogSender*>(h->data);
    if (--self->open_handles_ == 0 && self->on_stopped_) {
      auto done = std::move(self->on_stopped_);
      self->on_stopped_ = nullptr;
      done();
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), on_close);
}

}  // namespace tranship::logsender
