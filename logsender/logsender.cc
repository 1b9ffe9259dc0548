#include "logsender/logsender.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
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

namespace {
// One zstd context per thread that compresses (the pool's, and the loop thread for a
// small frame at the end), kept for the life of the process.
wire::Compressor& PoolCompressor() {
  thread_local wire::Compressor compressor(kDefaultZstdLevel);
  return compressor;
}
}  // namespace

// One step of building a frame on the thread pool: the cut (read and check the records,
// which fixes where the next frame starts; near the end the compression too), or the
// compression of a cut.
struct LogSender::BuildJob {
  uv_work_t req;
  LogSender* sender = nullptr;
  uint64_t session_id = 0;  // the receiver whose cursor (or read-ahead) asked for it
  Env* env = nullptr;
  std::string path;
  Boundary from;
  DurableEnd end;
  uint32_t target = 0;
  FileSource source;
  uint64_t stop_at = 0;  // a junction in this file (CutFrameAt)
  bool compress_too = false;  // the cut step compresses what it cut in the same job
  uint64_t epoch = 0;  // LogSender::epoch_ when the job started: a later history drops it
  int level = kDefaultZstdLevel;  // LogSenderOptions::zstd_level
  // Cut step: its result. Compress step: the cut to compress, then the frame.
  Result<std::optional<CutFrame>> cut = Status::Aborted("not cut");
  std::optional<BuiltFrame> built;
  void (*work)(BuildJob*) = nullptr;       // on a pool thread
  void (LogSender::*done)(BuildJob*) = nullptr;  // then on the loop thread
};

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

void LogSender::OnDurableEnd(const DurableEnd& e, bool from_stone) {
  bool lineage_changed = false;
  if (!end_.lineage.IsZero() && e.lineage != end_.lineage) {
    TS_LOG_WARN(
        "the primary's lineage changed from {} to {} (durable end {}); shipping the new "
        "history",
        end_.lineage.ToHex(), e.lineage.ToHex(), e.pos.ToString());
    ForgetHistory();
    lineage_changed = true;
  } else if (e.pos < end_.pos) {
    // Either the stone has not yet reported a batch this logsender found on disk and
    // synced itself (it will in a moment), or the primary's files were put back to an
    // earlier state (restore-snapshot, a copy put back by hand): what this logsender
    // found durable is not there any more. A fresh scan tells which.
    std::optional<DurableEnd> disk = RescanDisk();
    if (disk && Rewound(*disk)) return Rewind(from_stone ? e : *disk);
    if (!from_stone) return;  // an incremental scan that lost its place: nothing changed
    TS_LOG_INFO("the stone '{}' reports its durable end at {} (TID {}), before {} found on "
                "disk; following the stone",
                opts_.stone, e.pos.ToString(), e.tid, end_.pos.ToString());
    ForgetHistory();
  }
  if (e == end_) return;
  if (from_stone) disk_.Reset(e);
  end_ = e;
  nothing_until_.clear();
  if (lineage_changed) RecheckSessions();
  SendDataToAll();
}

const CurrentHistory* LogSender::Current() {
  if (current_ && current_->lineage() == end_.lineage) return &*current_;
  Result<CurrentHistory> c = CurrentHistory::Trace(history_, end_);
  if (!c.ok()) {
    if (c.status().message() != last_trace_error_) {
      TS_LOG_ERROR("cannot trace the primary's history back from {}: {}", end_.pos.ToString(),
                   c.status().ToString());
      last_trace_error_ = c.status().message();
    }
    current_.reset();
    return nullptr;
  }
  last_trace_error_.clear();
  current_ = std::move(*c);
  if (current_->segments().size() > 1) {
    TS_LOG_INFO("the primary's history: {}", current_->Describe());
  }
  return &*current_;
}

void LogSender::RecheckSessions() {
  std::vector<ReceiverSession*> live;
  for (auto& [id, s] : sessions_) {
    if (s->welcomed()) live.push_back(s.get());
  }
  for (ReceiverSession* s : live) {
    // Where its stream stands now, as a receiver resuming there would say it.
    const Boundary& at = s->cursor();
    wire::Hello h;
    h.version = wire::kProtocolVersion;
    h.receiver_stone = s->stone();
    h.receiver_host = "-";
    h.mode = wire::StartMode::kResume;
    h.lineage = s->lineage();
    h.resume = at.pos;
    h.resume_tid = at.next_tid - 1;
    h.resume_chain = at.chain;
    HandshakeDecision d = CheckHello(h, history_, end_, opts_.stone);
    if (!d.accepted && d.refuse.code == wire::RefuseCode::kForkInTime) {
      stats_.refused++;
      s->Refuse(d.refuse);
    }
  }
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

void LogSender::StartBuild(ReceiverSession* s) {
  const Boundary at = s->cursor();
  if (building_.count(at.pos)) return;  // another receiver's build serves this one too
  std::optional<std::string> path = history_.PathOf(at.pos.file_id);
  if (!path) {
    s->Refuse({wire::RefuseCode::kTranlogGone,
               fmt::format("tranlog {} ({}), which this standby needs next, is no longer on "
                           "the primary. Reseed this standby from a new backup of the primary.",
                           at.pos.file_id, history_.FileName(at.pos.file_id))});
    return;
  }
  StartCut(s->id(), at, *path, std::move(*s->source()));
}

void LogSender::StartCut(uint64_t session_id, const Boundary& at, const std::string& path,
                         FileSource source) {
  auto* job = new BuildJob;
  job->req.data = job;
  job->sender = this;
  job->session_id = session_id;
  job->env = env_;
  job->path = path;
  job->from = at;
  job->end = end_;
  job->target = opts_.frame_target;
  job->level = opts_.zstd_level;
  job->epoch = epoch_;
  if (const CurrentHistory* cur = Current()) {
    if (std::optional<Junction> j = cur->JunctionInFile(at.pos.file_id, at.pos.offset)) {
      job->stop_at = j->parent_end.offset;
    }
  }
  job->source = std::move(source);
  building_.insert(at.pos);
  // Near the end a frame is small and awaited: one job, one hop to the pool and back.
  auto it = sessions_.find(session_id);
  job->compress_too = it != sessions_.end() && it->second->state() != ReceiverState::kCatchUp;
  const bool here = job->compress_too && at.pos.file_id == end_.pos.file_id &&
                    end_.pos.offset - at.pos.offset <= kInlineBytes;
  Queue(job,
        [](BuildJob* j) {
          j->cut = CutFrameAt(j->env, j->path, j->from, j->end, j->target, &j->source, j->stop_at);
          if (j->compress_too && j->cut.ok() && j->cut->has_value()) {
            j->built = CompressFrame(std::move(**j->cut), &PoolCompressor(), j->level);
          }
        },
        &LogSender::FinishCut, here);
}

void LogSender::Queue(BuildJob* job, void (*work)(BuildJob*), void (LogSender::*done)(BuildJob*),
                      bool here) {
  jobs_in_flight_++;  // EndJob counts it off
  builds_of_[job->session_id]++;
  job->work = work;
  job->done = done;
  if (here) {
    // Called from SendData, which stops after starting a build: `done` sending the
    // frame (and building the next, if any) from here does not confuse it.
    stats_.frames_built_here++;
    work(job);
    (this->*done)(job);
    return;
  }
  int rc = uv_queue_work(
      loop_, &job->req,
      [](uv_work_t* req) {
        auto* j = static_cast<BuildJob*>(req->data);
        j->work(j);
      },
      [](uv_work_t* req, int) {
        auto* j = static_cast<BuildJob*>(req->data);
        (j->sender->*(j->done))(j);
      });
  if (rc != 0) {
    // Only fails for bad arguments; do the work here rather than stall.
    work(job);
    (this->*done)(job);
  }
}

bool LogSender::EndJob(BuildJob* job) {
  jobs_in_flight_--;
  auto b = builds_of_.find(job->session_id);
  if (b != builds_of_.end() && --b->second == 0) builds_of_.erase(b);
  if (stopping_) {
    building_.erase(job->from.pos);
    MaybeFinishStop();
    return false;
  }
  return true;
}

void LogSender::FinishCut(BuildJob* job) {
  std::unique_ptr<BuildJob> owned(job);
  auto it = sessions_.find(job->session_id);
  ReceiverSession* s = it == sessions_.end() ? nullptr : it->second.get();
  if (!EndJob(job)) return;
  if (Stale(job)) {
    if (s != nullptr) *s->source() = FileSource();  // it read the history forgotten
    SendDataToAll();
    return;
  }
  if (job->built) {  // cut and compressed in one job
    if (s != nullptr) *s->source() = std::move(job->source);
    history_.Remember(job->built->next);
    CacheFrame(job);
    return;
  }
  if (!job->cut.ok() || !job->cut->has_value()) {
    building_.erase(job->from.pos);
    if (s != nullptr) *s->source() = std::move(job->source);
    if (!job->cut.ok()) {
      FailBuild(job->from.pos, job->cut.status());
      return;
    }
    nothing_until_[job->from.pos] = job->end.pos;
    SendDataToAll();
    return;
  }
  const Boundary next = (*job->cut)->next;
  history_.Remember(next);

  // Compress it on the pool; the position stays in building_ until the frame is cached.
  auto* z = new BuildJob;
  z->req.data = z;
  z->sender = this;
  z->session_id = job->session_id;
  z->from = job->from;
  z->cut = std::move(job->cut);
  z->level = opts_.zstd_level;
  z->epoch = job->epoch;
  Queue(z,
        [](BuildJob* j) {
          j->built = CompressFrame(std::move(**j->cut), &PoolCompressor(), j->level);
        },
        &LogSender::FinishCompress);

  // Read ahead for a receiver catching up: the next cut starts now, so the frames of
  // one receiver are compressed side by side instead of one after the other. Only a few
  // frames ahead of what it was sent: frames built further ahead than the link takes
  // them would push each other out of the cache and be built again.
  if (s != nullptr && s->state() == ReceiverState::kCatchUp && next.pos < end_.pos &&
      BuildsOf(s->id()) < kBuildsAhead && !building_.count(next.pos) &&
      !cache_.Find(next.pos) && !JunctionAhead(next) &&
      history_.Distance(s->cursor().pos, next.pos) < uint64_t{kBuildsAhead} * opts_.frame_target) {
    if (std::optional<std::string> path = history_.PathOf(next.pos.file_id)) {
      stats_.frames_read_ahead++;
      StartCut(s->id(), next, *path, std::move(job->source));
      return;
    }
  }
  if (s != nullptr) *s->source() = std::move(job->source);
}

void LogSender::FinishCompress(BuildJob* job) {
  std::unique_ptr<BuildJob> owned(job);
  if (!EndJob(job)) return;
  if (Stale(job)) return SendDataToAll();
  CacheFrame(job);
}

bool LogSender::Stale(BuildJob* job) {
  if (job->epoch == epoch_) return false;
  building_.erase(job->from.pos);
  return true;
}

void LogSender::CacheFrame(BuildJob* job) {
  building_.erase(job->from.pos);
  stats_.frames_built++;
  if (!(job->built->header.flags & wire::kDataZstd)) stats_.frames_uncompressed++;
  std::optional<Position> needed_from;
  for (auto& [id, s] : sessions_) {
    if (s->welcomed() && (!needed_from || s->cursor().pos < *needed_from)) {
      needed_from = s->cursor().pos;
    }
  }
  cache_.Insert(std::make_shared<const BuiltFrame>(std::move(*job->built)),
                needed_from.value_or(Position{}));
  SendDataToAll();
}

int LogSender::BuildsOf(uint64_t session_id) const {
  auto it = builds_of_.find(session_id);
  return it == builds_of_.end() ? 0 : it->second;
}

bool LogSender::JunctionAhead(const Boundary& at) {
  const CurrentHistory* cur = Current();
  return cur == nullptr || cur->JunctionAt(at).has_value();
}

void LogSender::FailBuild(const Position& from, const Status& st) {
  auto stuck_at = [&] {
    std::vector<ReceiverSession*> stuck;
    for (auto& [id, s] : sessions_) {
      if (s->welcomed() && s->cursor().pos == from) stuck.push_back(s.get());
    }
    return stuck;
  };
  if (stuck_at().empty()) {
    // A read-ahead: the cut runs again (and is reported) when a receiver gets there.
    TS_LOG_DEBUG("reading ahead at {} failed: {}", from.ToString(), st.ToString());
    return;
  }
  // A file that ends before what was durable in it, or is gone, may have been put back
  // to an earlier state under this logsender: then the receivers past that state are
  // told so, not that a tranlog is gone.
  if (std::optional<DurableEnd> disk = RescanDisk()) {
    if (disk->lineage != end_.lineage) {
      OnDurableEnd(*disk, false);
    } else if (Rewound(*disk)) {
      Rewind(*disk);
    }
  }
  std::vector<ReceiverSession*> stuck = stuck_at();
  if (stuck.empty()) return;
  TS_LOG_ERROR("cannot ship from {}: {}", from.ToString(), st.ToString());
  for (ReceiverSession* s : stuck) {
    s->Refuse({wire::RefuseCode::kTranlogGone,
               fmt::format("the primary cannot ship from {}: {}", from.ToString(), st.message())});
  }
}

std::optional<DurableEnd> LogSender::RescanDisk() {
  disk_.Forget();
  Result<DurableEnd> d = disk_.Scan();
  if (!d.ok()) {
    TS_LOG_WARN("cannot scan the primary's tranlogs: {}", d.status().ToString());
    disk_.Reset(end_);
    return std::nullopt;
  }
  return *d;
}

void LogSender::ForgetHistory() {
  cache_.Clear();
  history_.ForgetBoundaries();
  current_.reset();
  nothing_until_.clear();
  epoch_++;  // frames being built now belong to the history forgotten
}

bool LogSender::Holds(const Boundary& b, const DurableEnd& end) {
  if (end.pos < b.pos) return false;
  Result<Boundary> found = history_.FindBoundary(b.pos, end);
  return found.ok() && found->next_tid == b.next_tid && found->chain == b.chain;
}

bool LogSender::Rewound(const DurableEnd& disk) {
  if (disk.lineage != end_.lineage) return false;  // a new lineage: OnDurableEnd's case
  (void)history_.Refresh();
  history_.ForgetBoundaries();  // what was learned may be of the files replaced
  return !Holds(Boundary{end_.pos, end_.tid + 1, end_.chain, 0}, disk);
}

void LogSender::Rewind(const DurableEnd& e) {
  TS_LOG_WARN("the primary's tranlogs were put back to an earlier state: they no longer hold "
              "{} (TID {}) that this logsender had found durable, and now end at {} (TID {}, "
              "lineage {}) (a snapshot or a copy put back); receivers sent anything that is "
              "not on them reconnect and are told whether their archive still is",
              end_.pos.ToString(), end_.tid, e.pos.ToString(), e.tid, e.lineage.ToHex());
  (void)history_.Refresh();
  ForgetHistory();
  end_ = e;
  disk_.Reset(e);
  // What was sent that the files no longer hold may or may not be in a receiver's
  // archive: its Hello, from what the archive holds, decides (the handshake refuses a
  // fork in time at once).
  std::vector<ReceiverSession*> off;
  for (auto& [id, s] : sessions_) {
    if (s->welcomed() && !Holds(s->cursor(), e)) off.push_back(s.get());
  }
  for (ReceiverSession* s : off) {
    stats_.dropped++;
    s->Drop(fmt::format("the primary's tranlogs no longer hold what was sent to it (up to {}); "
                        "it reconnects from what its archive holds",
                        s->cursor().pos.ToString()));
  }
  RecheckSessions();
  SendDataToAll();
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
