#include "logreceiver/receiver.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "base/clock.h"
#include "base/log.h"
#include "logreceiver/start_point.h"

namespace tranship::logreceiver {

namespace {

uint64_t MsSince(uint64_t ns) { return (MonotonicNanos() - ns) / 1000000; }

}  // namespace

const char* LogReceiver::ToString(State s) {
  switch (s) {
    case State::kWaitingForStone: return "waiting for stone";
    case State::kConnecting: return "connecting";
    case State::kHandshake: return "handshake";
    case State::kStreaming: return "streaming";
    case State::kDiskFull: return "disk full";
    case State::kRefused: return "refused";
    case State::kStopping: return "stopping";
  }
  return "unknown";
}

LogReceiver::LogReceiver(uv_loop_t* loop, ReceiverOptions options, Connector connector)
    : loop_(loop),
      opts_(std::move(options)),
      connector_(std::move(connector)),
      archive_(opts_.env, opts_.archive_dir, opts_.prefix),
      keepalive_ms_(opts_.keepalive_ms),
      timeout_ms_(opts_.timeout_ms),
      backoff_ms_(opts_.min_backoff_ms) {}

LogReceiver::~LogReceiver() {
  // The owner runs the loop until Stop() has closed everything.
  assert(open_handles_ == 0 && !transport_ && write_ == nullptr);
}

void LogReceiver::SetState(State s, std::string_view why) {
  if (s == state_) return;
  TS_LOG_INFO("logreceiver for '{}': {} -> {}{}{}", opts_.stone, ToString(state_), ToString(s),
              why.empty() ? "" : ": ", why);
  state_ = s;
  if (on_state) on_state(s);
}

Status LogReceiver::Start() {
  TRANSHIP_RETURN_IF_ERROR(archive_.Scan());
  const StreamEnd& end = archive_.durable_end();
  if (archive_.empty() && opts_.ask_stone && !opts_.from_start) {
    TS_LOG_INFO("archive {} is empty: asking the standby stone '{}' where its state ends",
                opts_.archive_dir, opts_.stone);
  } else if (archive_.empty()) {
    bool after = !opts_.ask_stone && opts_.empty_mode == wire::StartMode::kAfterTid;
    TS_LOG_INFO("archive {} is empty: asking for {}", opts_.archive_dir,
                after ? fmt::format("the tranlog after TID {}", opts_.after_tid)
                      : std::string("the primary's history from tranlog 1 (--from-start)"));
  } else {
    TS_LOG_INFO("archive {} ends at {} (TID {}, lineage {})", opts_.archive_dir,
                end.pos.ToString(), end.tid, end.lineage.ToHex());
  }
  last_acked_ = archive_end_ = end.ToDurableEnd();
  uv_timer_init(loop_, &retry_timer_);
  uv_timer_init(loop_, &tick_timer_);
  uv_check_init(loop_, &flush_check_);
  retry_timer_.data = tick_timer_.data = flush_check_.data = this;
  open_handles_ = 3;
  uv_check_start(&flush_check_, [](uv_check_t* h) {
    static_cast<LogReceiver*>(h->data)->FlushStep();
  });
  uint64_t tick = std::max<uint64_t>(10, std::min(keepalive_ms_, timeout_ms_) / 4);
  uv_timer_start(&tick_timer_, [](uv_timer_t* h) {
    static_cast<LogReceiver*>(h->data)->Tick();
  }, tick, tick);
  started_ = true;
  Connect();
  return Status::OK();
}

void LogReceiver::Connect() {
  if (stopping_ || transport_ || connecting_ || asking_) return;
  if (archive_.empty() && opts_.ask_stone) {
    AskStone();
    return;
  }
  ConnectNow();
}

void LogReceiver::AskStone() {
  asking_ = true;
  uint64_t generation = ++ask_generation_;
  opts_.ask_stone([this, generation](std::optional<StoneInfo> info) {
    if (generation != ask_generation_) return;  // asked before Stop(): nobody waits
    asking_ = false;
    if (stopping_) return;
    StartChoice c = ChooseStart(opts_.from_start, info, opts_.stone);
    if (c.wait) {
      if (waiting_why_.empty()) {
        TS_LOG_WARN("waiting for the standby stone '{}' to say where its state ends: {}; "
                    "asking again every {} s",
                    opts_.stone, c.why, opts_.stone_wait_ms / 1000.0);
      } else if (c.why != waiting_why_) {
        TS_LOG_INFO("still waiting for the standby stone '{}': {}", opts_.stone, c.why);
      }
      waiting_why_ = c.why;
      last_error_ = c.why;
      SetState(State::kWaitingForStone, "the standby stone has not said where it ends");
      uv_timer_start(&retry_timer_, [](uv_timer_t* h) {
        static_cast<LogReceiver*>(h->data)->Connect();
      }, opts_.stone_wait_ms, 0);
      return;
    }
    waiting_why_.clear();
    opts_.empty_mode = c.mode;
    opts_.after_lineage = c.lineage;
    opts_.after_tid = c.tid;
    opts_.after_chain = c.chain;
    if (c.mode == wire::StartMode::kAfterTid) {
      TS_LOG_INFO("the standby stone '{}' ends at TID {} (lineage {}): asking the logsender "
                  "for the tranlog holding TID {}",
                  opts_.stone, c.tid, c.lineage.ToHex(), c.tid + 1);
    }
    ConnectNow();
  });
}

void LogReceiver::ConnectNow() {
  if (stopping_ || transport_ || connecting_) return;
  if (state_ != State::kDiskFull && state_ != State::kRefused) {
    SetState(State::kConnecting, opts_.master);
  }
  connecting_ = true;
  uint64_t session = ++session_;
  connector_([this, session](Result<std::unique_ptr<wire::Transport>> t) {
    if (session != session_) return;  // cannot happen: one attempt at a time
    OnConnected(std::move(t));
  });
}

void LogReceiver::OnConnected(Result<std::unique_ptr<wire::Transport>> t) {
  connecting_ = false;
  if (!t.ok()) {
    std::string msg = t.status().message();
    if (msg != last_connect_error_) {
      TS_LOG_WARN("cannot reach the logsender at {}: {} (retrying)", opts_.master, msg);
      last_connect_error_ = msg;
    } else {
      TS_LOG_DEBUG("cannot reach the logsender at {}: {}", opts_.master, msg);
    }
    last_error_ = msg;
    if (stopping_) {
      CloseHandles();
    } else {
      ScheduleRetry(retry_ == Retry::kBackoff ? Retry::kBackoff : retry_);
    }
    return;
  }
  transport_ = std::move(*t);
  uint64_t session = session_;
  // Until the Welcome, only small frames: a Data frame's size is for a welcomed sender.
  reader_ = wire::FrameReader(wire::kMaxSenderHandshakeFrame);
  welcomed_ = false;
  dropping_ = false;
  read_paused_ = false;
  peer_ = transport_->PeerName();
  last_recv_ns_ = last_send_ns_ = MonotonicNanos();
  wire::Transport::Callbacks cb;
  cb.on_ready = [this, session] {
    if (session == session_) OnReady();
  };
  cb.on_data = [this, session](std::string_view bytes) {
    if (session == session_) OnData(bytes);
  };
  cb.on_writable = [] {};
  cb.on_closed = [this, session](const Status& why) {
    if (session == session_) OnClosed(why);
  };
  transport_->Start(std::move(cb));
  if (stopping_ && transport_) transport_->Close(Status::Aborted("the logreceiver is stopping"));
}

void LogReceiver::OnReady() {
  if (stopping_ || dropping_) return;
  peer_ = transport_->PeerName();
  last_connect_error_.clear();
  if (!transport_->IsTls()) {
    TS_LOG_INFO("connected to the logsender at {} over plaintext TCP: the link is not "
                "encrypted (start both ends with -S for TLS)", peer_);
  } else {
    TS_LOG_INFO("connected to the logsender at {} over TLS", peer_);
  }
  if (state_ != State::kDiskFull && state_ != State::kRefused) {
    SetState(State::kHandshake, peer_);
  }
  wire::Hello h;
  h.receiver_stone = opts_.stone;
  h.receiver_host = opts_.host;
  const StreamEnd& end = archive_.durable_end();
  if (archive_.empty()) {
    h.mode = opts_.empty_mode;
    h.lineage = opts_.after_lineage;
    h.resume_tid = opts_.after_tid;
    h.resume_chain = opts_.after_chain;
  } else {
    h.mode = wire::StartMode::kResume;
    h.lineage = end.lineage;
    h.resume = end.pos;
    h.resume_tid = end.tid;
    h.resume_chain = end.chain;
  }
  std::string frame;
  wire::EncodeHello(&frame, h);
  Send(std::move(frame));
}

void LogReceiver::OnData(std::string_view bytes) {
  reader_.Feed(bytes);
  wire::Frame f;
  while (!dropping_ && transport_) {
    wire::FrameReader::Result r = reader_.Next(&f);
    if (r == wire::FrameReader::Result::kNeedMore) return;
    if (r == wire::FrameReader::Result::kError) {
      Drop(Status::Corruption(fmt::format("garbage from the logsender at {}: {}", peer_,
                                          reader_.error().message())));
      return;
    }
    last_recv_ns_ = MonotonicNanos();  // a complete frame (wire::SilenceLimitMs)
    Status s = HandleFrame(f);
    if (!s.ok()) {
      Drop(s);
      return;
    }
  }
}
void LogReceiver::Tick() {
  if (!transport_ || dropping_) return;
  const uint32_t pending = reader_.pending_length();
  if (MsSince(last_recv_ns_) >= wire::SilenceLimitMs(timeout_ms_, pending)) {
    Drop(Status::TimedOut(
        pending == 0
            ? fmt::format("the logsender at {} has been silent for {} s", peer_,
                          MsSince(last_recv_ns_) / 1000.0)
            : fmt::format("the logsender at {} has sent no complete frame for {} s (a frame "
                          "of {} bytes never completed: a damaged stream or a dead link)",
                          peer_, MsSince(last_recv_ns_) / 1000.0, pending)));
    return;
  }
  if (welcomed_ && MsSince(last_send_ns_) >= keepalive_ms_) {
    wire::Keepalive k;
    k.sent_us = NowMicros();
    std::string frame;
    wire::EncodeKeepalive(&frame, k);
    Send(std::move(frame));
  }
}


void LogReceiver::Drop(const Status& why) {
  if (!transport_ || dropping_) return;
  last_error_ = why.message();
  // An empty archive with nothing checked has no position: the next Hello asks as the
  // first one did.
  const Position from = CheckedEnd().pos;
  TS_LOG_ERROR("dropping the connection to the logsender at {}: {}; will resume from {}",
               peer_, why.message(),
               from.file_id == 0 ? std::string("the start, as the archive is still empty")
                                 : from.ToString());
  dropping_ = true;
  transport_->Close(why);
}

void LogReceiver::Send(std::string frame) {
  if (!transport_ || dropping_) return;
  last_send_ns_ = MonotonicNanos();
  (void)transport_->Write(std::move(frame));  // small frames: no backpressure needed
}

void LogReceiver::OnClosed(const Status& why) {
  ++session_;  // nothing more from this connection
  bool was_streaming = welcomed_;
  welcomed_ = false;
  // The transport may be destroyed from inside its own on_closed.
  std::unique_ptr<wire::Transport> gone = std::move(transport_);
  gone.reset();
  // What was written and checked is kept: make it durable (it is not acknowledged).
  FlushNow();
  if (stopping_) {
    CloseHandles();
    return;
  }
  if (retry_ == Retry::kBackoff && state_ != State::kRefused) {
    if (was_streaming) {
      TS_LOG_WARN("lost the logsender at {}: {}", peer_, why.message());
    } else if (!dropping_) {
      TS_LOG_WARN("the logsender at {} closed the connection: {}", peer_, why.message());
    }
    if (!why.ok() && last_error_.empty()) last_error_ = why.message();
  }
  if (archive_.unsynced_bytes() == 0) {
    // Belt and braces: the files are the truth, the in-memory end only a cache.
    StreamEnd before = archive_.durable_end();
    Status s = archive_.Scan();
    if (!s.ok()) {
      TS_LOG_ERROR("archive scan failed: {}", s.ToString());
      last_error_ = s.message();
    } else if (!(archive_.durable_end() == before)) {
      archive_end_ = archive_.durable_end().ToDurableEnd();
      TS_LOG_WARN("the archive's end moved from {} to {} between connections",
                  before.pos.ToString(), archive_.durable_end().pos.ToString());
    }
  }
  if (state_ == State::kStreaming || state_ == State::kHandshake) {
    SetState(State::kConnecting, "lost the link");
  }
  ScheduleRetry(retry_);
}

void LogReceiver::ScheduleRetry(Retry kind) {
  if (stopping_) return;
  uint64_t ms = 0;
  switch (kind) {
    case Retry::kBackoff:
      ms = backoff_ms_;
      backoff_ms_ = std::min(backoff_ms_ * 2, opts_.max_backoff_ms);
      break;
    case Retry::kRefusedSlow: ms = opts_.refused_retry_ms; break;
    case Retry::kDiskFull: ms = opts_.disk_full_retry_ms; break;
  }
  TS_LOG_DEBUG("reconnecting to {} in {} ms", opts_.master, ms);
  uv_timer_start(&retry_timer_, [](uv_timer_t* h) {
    static_cast<LogReceiver*>(h->data)->Connect();
  }, ms, 0);
}

void LogReceiver::Stop(std::string_view why) {
  if (stopping_) return;
  stopping_ = true;
  ++ask_generation_;  // an answer still on its way finds nobody waiting
  asking_ = false;
  TS_LOG_INFO("logreceiver for '{}' stopping: {}", opts_.stone, why);
  if (!started_) return;
  SetState(State::kStopping, why);
  FlushNow();  // the last Ack goes out before the goodbye
  uv_timer_stop(&retry_timer_);
  if (transport_) {
    if (!dropping_) {
      dropping_ = true;
      transport_->Close(Status::Aborted(fmt::format("the logreceiver is stopping: {}", why)));
    }
    return;  // OnClosed finishes
  }
  if (!connecting_) CloseHandles();
}

void LogReceiver::CloseHandles() {
  if (open_handles_ != 3) return;
  WaitForWrite();
  auto closed = [](uv_handle_t* h) { static_cast<LogReceiver*>(h->data)->open_handles_--; };
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), closed);
}

LogReceiver::Snapshot LogReceiver::status() const {
  Snapshot s;
  s.state = state_;
  s.peer = transport_ ? peer_ : "";
  s.archive_end = archive_end_;
  s.primary_end = primary_end_;
  s.primary_known = primary_known_;
  s.last_error = last_error_;
  if (primary_known_) {
    const Position& a = s.archive_end.pos;
    const Position& p = primary_end_.pos;
    if (p > a) {
      // Exact within one file; across files the sizes of the files between are not
      // known here, so this counts only the part of the primary's newest file.
      s.lag_bytes = p.file_id == a.file_id ? p.offset - a.offset : p.offset;
    }
    if (primary_end_.commit_time_us > s.archive_end.commit_time_us && p > a) {
      s.lag_seconds = (primary_end_.commit_time_us - s.archive_end.commit_time_us) / 1e6;
    }
  }
  return s;
}

}  // namespace tranship::logreceiver
