// The stone server's libuv loop. One thread (the caller of Run) owns every handle:
// the listening pipe, the client connections, one uv_async_t, the signal handles and a
// stop timer. Two other threads hand work back to it, both through the async handle:
// the engine's log-writer thread (commit completions, durable-end advances) and the
// libuv worker pool (admin verbs, which may take seconds).
//
// Commit path: a read callback parses every complete frame in the buffer, queues the
// commits with Engine::CommitAsync, answers gets inline and writes all replies of that
// read with one write. Completions arrive in a mutex-protected vector (one wakeup per
// empty->non-empty transition); the async callback swaps it out, encodes every reply
// into its connection's output buffer and then flushes each connection once.
//
// Stop (RequestStop, SIGTERM, SIGINT): stop accepting and reading, wait until every
// commit and admin verb already handed to the engine has been answered, flush the
// replies, shut the connections down (a stop timer closes those whose peer does not
// read), close the async handle last.
#include "stone/server.h"

#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "client/protocol.h"
#include "restore/control.h"
#include "stone/admin.h"
#include "stone/connection.h"
#include "client/unix_socket.h"

namespace tranship {
namespace cp = client_protocol;

namespace {
// How long a stopping server waits for peers to take their last replies.
constexpr uint64_t kStopLingerMs = 2000;
// More connections than any sane deployment opens; each costs a 64 KiB read buffer.
constexpr size_t kMaxConnections = 1024;

Status UvError(int err, std::string_view what) {
  return Status::IOError(fmt::format("{}: {}", what, uv_strerror(err)));
}

}  // namespace

class StoneServer::Impl final : public ConnectionHost {
 public:
  Impl(Stone* stone, StoneServerOptions options)
      : stone_(stone), engine_(stone->engine()), options_(std::move(options)) {
    admin_ctx_.stone_name = options_.name;
    admin_ctx_.extent_dir = options_.extent_dir;
    admin_ctx_.logreceivers = [this] { return logreceivers_.load(); };
  }

  Status Run(const std::function<void()>& on_listening);
  void RequestStop();

  // ConnectionHost: called by connections on the loop thread.
  Status HandleFrame(Connection* c, const cp::Frame& f) override;
  void OnConnectionClosing(Connection* c) override;
  void OnConnectionFreed(Connection* c) override;
  bool stopping() const override { return stopping_; }
  const DurableEnd& latest_end() const override { return loop_end_; }

 private:
  struct Completion {
    Connection* conn;
    uint32_t id;
    Status status;
    uint64_t tid;
  };
  struct AdminWork {
    uv_work_t req;
    Impl* server;
    Connection* conn;
    uint32_t id;
    std::string verb;
    std::vector<std::string> args;
    Result<std::string> result = Status::Aborted("not run");
  };

  Status Listen();
  void OnAsync();
  void OnCommitDone(Connection* c, uint32_t id, Status s, uint64_t tid);  // any thread
  void OnDurableEnd(const DurableEnd& end);                                // any thread
  void StartAdmin(Connection* c, uint32_t id, std::string verb, std::vector<std::string> args);
  void Subscribe(Connection* c, uint32_t id);
  void FinishRequest(Connection* c);
  void MarkDirty(Connection* c);
  void FlushDirty();
  void BeginStop(Status reason);
  void MaybeFinishStop();
  StoneInfo MakeInfo() const;

  Stone* stone_;
  Engine* engine_;  // stone_'s
  StoneServerOptions options_;
  AdminContext admin_ctx_;
  uint64_t started_us_ = 0;

  uv_loop_t loop_;
  uv_pipe_t listener_;
  uv_async_t async_;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_timer_t stop_timer_;
  bool listener_open_ = false;
  bool signals_open_ = false;
  bool timer_open_ = false;
  ino_t socket_inode_ = 0;

  // Loop-thread state.
  std::unordered_set<Connection*> connections_;  // open (not yet closing)
  std::vector<Connection*> dirty_;               // have output to flush
  std::vector<Connection*> subscribers_;
  std::vector<Completion> draining_;             // swapped with completions_
  uint64_t next_conn_id_ = 1;
  uint64_t total_inflight_ = 0;  // commits + admin verbs not yet answered
  bool stopping_ = false;
  bool finished_ = false;  // async closed, connections shutting down
  Status stop_reason_;
  DurableEnd loop_end_;
  // Open connections that said hello as a logreceiver; read by admin verbs off the loop.
  std::atomic<uint32_t> logreceivers_{0};
  DurableEnd archive_end_;     // the newest archive end a logreceiver reported
  uint64_t subscription_ = 0;
  bool subscribed_to_engine_ = false;

  // Shared with the log-writer and worker threads.
  std::mutex mu_;
  bool async_alive_ = false;     // uv_async_send is allowed
  bool stop_requested_ = false;
  std::vector<Completion> completions_;
  DurableEnd shared_end_;
  bool end_dirty_ = false;
  size_t subscriber_count_ = 0;  // mirrors subscribers_.size() for the writer thread
};

Status StoneServer::Impl::Run(const std::function<void()>& on_listening) {
  // libuv writes with write(2); a peer that vanished must not kill the stone.
  std::signal(SIGPIPE, SIG_IGN);
  int rc = uv_loop_init(&loop_);
  if (rc != 0) return UvError(rc, "uv_loop_init");
  {
    std::lock_guard<std::mutex> l(mu_);
    rc = uv_async_init(&loop_, &async_, [](uv_async_t* h) {
      static_cast<Impl*>(h->data)->OnAsync();
    });
    assert(rc == 0);  // only fails for bad arguments
    async_.data = this;
    async_alive_ = true;
    if (stop_requested_) uv_async_send(&async_);
  }
  uv_timer_init(&loop_, &stop_timer_);
  stop_timer_.data = this;
  timer_open_ = true;
  subscription_ = engine_->Subscribe([this](const DurableEnd& e) { OnDurableEnd(e); });
  subscribed_to_engine_ = true;
  loop_end_ = engine_->durable_end();

  Status st = Listen();
  if (st.ok()) {
    started_us_ = NowMicros();
    TS_LOG_INFO("stone '{}' accepting logins on {}", options_.name, options_.socket_path);
    if (on_listening) on_listening();
  } else {
    BeginStop(st);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  rc = uv_loop_close(&loop_);
  if (rc != 0) {
    // A handle left open is a bug in this file; name it rather than leak silently.
    uv_walk(&loop_, [](uv_handle_t* h, void*) {
      TS_LOG_ERROR("stone server: handle of type {} still open at exit", uv_handle_type_name(h->type));
    }, nullptr);
    assert(false && "stone server left a libuv handle open");
  }
  if (socket_inode_ != 0) {
    struct stat s;
    // Remove the socket only if it is still ours (not a successor's).
    if (::lstat(options_.socket_path.c_str(), &s) == 0 && s.st_ino == socket_inode_) {
      ::unlink(options_.socket_path.c_str());
    }
  }
  TS_LOG_INFO("stone '{}' server stopped: {}", options_.name, stop_reason_.ToString());
  return stop_reason_;
}

Status StoneServer::Impl::Listen() {
  TRANSHIP_RETURN_IF_ERROR(ClaimSocketPath(options_.socket_path));
  uv_pipe_init(&loop_, &listener_, 0);
  listener_.data = this;
  listener_open_ = true;
  int rc = uv_pipe_bind(&listener_, options_.socket_path.c_str());
  if (rc != 0) return UvError(rc, "bind " + options_.socket_path);
  struct stat s;
  if (::lstat(options_.socket_path.c_str(), &s) == 0) socket_inode_ = s.st_ino;
  // Restrict before listen(): until then nobody can connect, so there is no window.
  if (::chmod(options_.socket_path.c_str(), 0600) != 0) {
    return Status::FromErrno(errno, "chmod " + options_.socket_path);
  }
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), SOMAXCONN,
                 [](uv_stream_t* server, int status) {
    auto* self = static_cast<Impl*>(server->data);
    if (status < 0) {
      TS_LOG_WARN("accept on {}: {}", self->options_.socket_path, uv_strerror(status));
      return;
    }
    auto* c = new Connection(self, self->next_conn_id_++, &self->loop_);
    if (!c->Accept(server)) return;  // Accept closed (and will free) it
    if (self->connections_.size() >= kMaxConnections || self->stopping_) {
      TS_LOG_WARN("refusing client connection: {} connections open", self->connections_.size());
      c->Close();
      return;
    }
    self->connections_.insert(c);
    c->StartReading();
  });
  if (rc != 0) return UvError(rc, "listen on " + options_.socket_path);
  if (options_.handle_signals) {
    uv_signal_init(&loop_, &sigterm_);
    uv_signal_init(&loop_, &sigint_);
    sigterm_.data = sigint_.data = this;
    signals_open_ = true;
    auto on_signal = [](uv_signal_t* h, int signum) {
      TS_LOG_INFO("received {}, stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
      static_cast<Impl*>(h->data)->BeginStop(Status::OK());
    };
    uv_signal_start(&sigterm_, on_signal, SIGTERM);
    uv_signal_start(&sigint_, on_signal, SIGINT);
  }
  return Status::OK();
}

void StoneServer::Impl::RequestStop() {
  std::lock_guard<std::mutex> l(mu_);
  stop_requested_ = true;
  if (async_alive_) uv_async_send(&async_);
}

Status StoneServer::Impl::HandleFrame(Connection* c, const cp::Frame& f) {
  std::string* out = c->output();
  if (!c->hello_done() && f.type != cp::MsgType::kHello) {
    return Status::Corruption(
        fmt::format("expected a hello message first, got {}", cp::TypeName(f.type)));
  }
  switch (f.type) {
    case cp::MsgType::kHello: {
      if (c->hello_done()) return Status::Corruption("a second hello message");
      cp::HelloRequest h;
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeHello(f.body, &h));
      if (h.magic != cp::kMagic) return Status::Corruption("bad magic in hello message");
      if (h.protocol_version != cp::kProtocolVersion) {
        // Answered, so the client can say what is wrong, then closed like garbage.
        Status refused = Status::NotSupported(fmt::format(
            "client protocol version {} is not supported by stone '{}' (tranship {} speaks {})",
            h.protocol_version, options_.name, TRANSHIP_VERSION, cp::kProtocolVersion));
        cp::EncodeErrorReply(out, f.type, f.request_id, refused);
        return refused;
      }
      c->set_hello_done();
      TS_LOG_DEBUG("client connection {} is '{}'", c->id(), h.client_name);
      if (h.client_name == cp::kLogreceiverClientName) {
        c->set_logreceiver();
        logreceivers_++;
        TS_LOG_INFO("a logreceiver logged in (connection {}; {} logged in)", c->id(),
                    logreceivers_.load());
      }
      cp::EncodeHelloReply(out, f.request_id, {cp::kProtocolVersion, TRANSHIP_VERSION, options_.name});
      return Status::OK();
    }
    case cp::MsgType::kGet: {
      std::string_view key;
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeGet(f.body, &key));
      cp::EncodeGetReply(out, f.request_id, engine_->Get(key));
      return Status::OK();
    }
    case cp::MsgType::kCommit: {
      TxnRequest txn;
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeCommit(f.body, &txn));
      c->add_inflight();
      total_inflight_++;
      // Two words: fits std::function's local storage, so no allocation per commit.
      engine_->CommitAsync(std::move(txn), [c, id = f.request_id](Status s, uint64_t tid) {
        static_cast<Impl*>(c->host())->OnCommitDone(c, id, std::move(s), tid);
      });
      return Status::OK();
    }
    case cp::MsgType::kInfo:
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeEmpty(f.body, f.type));
      cp::EncodeInfoReply(out, f.request_id, MakeInfo());
      return Status::OK();
    case cp::MsgType::kAdmin: {
      std::string verb;
      std::vector<std::string> args;
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeAdmin(f.body, &verb, &args));
      StartAdmin(c, f.request_id, std::move(verb), std::move(args));
      return Status::OK();
    }
    case cp::MsgType::kSubscribe:
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeEmpty(f.body, f.type));
      Subscribe(c, f.request_id);
      return Status::OK();
    case cp::MsgType::kArchiveNotify: {
      DurableEnd end;
      TRANSHIP_RETURN_IF_ERROR(cp::DecodeArchiveNotify(f.body, &end));
      // A hint: continuous restore reads the archive files themselves.
      archive_end_ = end;
      stone_->restore()->NotifyArchive(end);
      TS_LOG_DEBUG("archive end reported by connection {}: {} TID {}", c->id(),
                   end.pos.ToString(), end.tid);
      cp::EncodeArchiveNotifyReply(out, f.request_id);
      return Status::OK();
    }
    default:
      return Status::Corruption(
          fmt::format("a client sent a server message ({})", cp::TypeName(f.type)));
  }
}

void StoneServer::Impl::OnCommitDone(Connection* c, uint32_t id, Status s, uint64_t tid) {
  // A refused commit (restore mode, suspended) reads with its remedy; done before the lock.
  if (!s.ok()) s = AddStoneHint(std::move(s), engine_->options().stone_name);
  std::lock_guard<std::mutex> l(mu_);
  bool wake = completions_.empty();
  completions_.push_back(Completion{c, id, std::move(s), tid});
  // async_ is alive: it is closed only after every in-flight commit was answered.
  if (wake) uv_async_send(&async_);
}

void StoneServer::Impl::OnDurableEnd(const DurableEnd& end) {
  std::lock_guard<std::mutex> l(mu_);
  shared_end_ = end;  // coalesced: only the newest end is ever sent
  if (subscriber_count_ > 0 && async_alive_ && !end_dirty_) {
    end_dirty_ = true;
    uv_async_send(&async_);
  }
}

void StoneServer::Impl::OnAsync() {
  bool end_dirty;
  bool stop;
  {
    std::lock_guard<std::mutex> l(mu_);
    draining_.swap(completions_);
    end_dirty = end_dirty_;
    end_dirty_ = false;
    if (end_dirty) loop_end_ = shared_end_;
    stop = stop_requested_;
  }
  if (end_dirty) {
    // The logsenders first: they start shipping while the commit replies below are
    // written, each of which may wake its client and cost this thread the core.
    for (Connection* c : subscribers_) {
      c->SendDurableEnd(loop_end_);
      MarkDirty(c);
    }
    FlushDirty();
  }
  for (Completion& done : draining_) {
    Connection* c = done.conn;
    if (!c->closing()) {
      if (done.status.ok()) {
        cp::EncodeCommitReply(c->output(), done.id, done.tid);
      } else {
        cp::EncodeErrorReply(c->output(), cp::MsgType::kCommit, done.id, done.status);
      }
      MarkDirty(c);
    }
    FinishRequest(c);
  }
  draining_.clear();
  FlushDirty();
  if (stop) BeginStop(Status::OK());
  MaybeFinishStop();
}

void StoneServer::Impl::FinishRequest(Connection* c) {
  total_inflight_--;
  // May free c (closed while its request was in the engine) or resume its reading.
  c->RequestDone();
}

void StoneServer::Impl::MarkDirty(Connection* c) {
  if (c->MarkDirty()) dirty_.push_back(c);
}

void StoneServer::Impl::FlushDirty() {
  // Swap out first: a flush can close a connection, which never re-adds it.
  std::vector<Connection*> dirty;
  dirty.swap(dirty_);
  for (Connection* c : dirty) c->FlushIfDirty();
  if (dirty_.empty()) {
    dirty.clear();
    dirty_.swap(dirty);  // keep the capacity
  }
}

void StoneServer::Impl::StartAdmin(Connection* c, uint32_t id, std::string verb,
                                   std::vector<std::string> args) {
  auto* w = new AdminWork{{}, this, c, id, std::move(verb), std::move(args)};
  w->req.data = w;
  c->add_inflight();
  total_inflight_++;
  int rc = uv_queue_work(
      &loop_, &w->req,
      [](uv_work_t* req) {  // worker thread
        auto* w = static_cast<AdminWork*>(req->data);
        w->result = RunAdminVerb(w->server->stone_, w->server->admin_ctx_, w->verb, w->args);
      },
      [](uv_work_t* req, int status) {  // loop thread
        auto* w = static_cast<AdminWork*>(req->data);
        Impl* self = w->server;
        if (status != 0) w->result = UvError(status, "admin " + w->verb);
        if (!w->conn->closing()) {
          if (w->result.ok()) {
            cp::EncodeAdminReply(w->conn->output(), w->id, *w->result);
          } else {
            cp::EncodeErrorReply(w->conn->output(), cp::MsgType::kAdmin, w->id, w->result.status());
          }
          w->conn->Flush();
        }
        Connection* c = w->conn;
        delete w;
        self->FinishRequest(c);
        self->MaybeFinishStop();
      });
  if (rc != 0) {
    Status st = UvError(rc, "queue admin " + w->verb);
    cp::EncodeErrorReply(c->output(), cp::MsgType::kAdmin, id, st);
    delete w;
    c->remove_inflight();
    total_inflight_--;
  }
}

void StoneServer::Impl::Subscribe(Connection* c, uint32_t id) {
  cp::EncodeSubscribeReply(c->output(), id);
  if (c->subscribed()) return;
  c->set_subscribed(id);
  subscribers_.push_back(c);
  {
    std::lock_guard<std::mutex> l(mu_);
    subscriber_count_++;
  }
  // Read after counting ourselves in: an advance from now on also wakes the loop, and
  // anything earlier is already in durable_end().
  DurableEnd now = engine_->durable_end();
  if (loop_end_.lineage != now.lineage || loop_end_.pos < now.pos) loop_end_ = now;
  c->SendDurableEnd(loop_end_);
}

void StoneServer::Impl::OnConnectionClosing(Connection* c) {
  connections_.erase(c);
  if (c->logreceiver()) {
    logreceivers_--;
    TS_LOG_INFO("a logreceiver logged out (connection {}; {} logged in)", c->id(),
                logreceivers_.load());
  }
  if (c->subscribed()) {
    std::erase(subscribers_, c);
    std::lock_guard<std::mutex> l(mu_);
    subscriber_count_--;
  }
  if (finished_ && connections_.empty() && timer_open_) {
    timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer_), nullptr);
  }
}

void StoneServer::Impl::OnConnectionFreed(Connection* c) { std::erase(dirty_, c); }

StoneInfo StoneServer::Impl::MakeInfo() const {
  StoneInfo info;
  info.name = options_.name;
  info.version = TRANSHIP_VERSION;
  info.pid = static_cast<uint32_t>(::getpid());
  info.started_us = started_us_;
  info.durable_end = engine_->durable_end();
  const EngineStats s = engine_->stats();
  info.stats = StoneStats{s.commits,  s.conflicts,          s.batches,
                          s.tranlog_bytes, s.keys,          s.last_checkpoint_tid,
                          s.last_checkpoint_us, s.restore_mode, s.commits_suspended,
                          s.last_error};
  info.logreceivers = logreceivers_;
  info.archive_end = archive_end_;
  if (engine_->in_restore_mode()) {
    RestoreProgress p = engine_->restore_progress();
    info.restored = p.at.AsEnd();
    RestoreControl::Flags f = stone_->restore()->CurrentFlags();
    info.restore_flags = (f.continuous ? kInfoRestoreContinuous : 0) |
                         (f.gap ? kInfoRestoreGap : 0) |
                         (p.failover_tid != 0 ? kInfoRestoreFailover : 0);
  }
  info.state = (info.restore_flags & kInfoRestoreContinuous) ? "continuous restore"
               : info.stats.restore_mode                     ? "restore mode"
               : info.stats.commits_suspended                ? "commits suspended"
                                                             : "running";
  return info;
}

void StoneServer::Impl::BeginStop(Status reason) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = std::move(reason);
  if (listener_open_) {
    listener_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  if (signals_open_) {
    signals_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  }
  for (Connection* c : connections_) c->StopReading();
  MaybeFinishStop();
}

void StoneServer::Impl::MaybeFinishStop() {
  if (!stopping_ || finished_ || total_inflight_ > 0) return;
  finished_ = true;
  if (subscribed_to_engine_) {
    subscribed_to_engine_ = false;
    engine_->Unsubscribe(subscription_);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    async_alive_ = false;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  // Copy: a shutdown that fails inline closes the connection and edits the set.
  std::vector<Connection*> open(connections_.begin(), connections_.end());
  for (Connection* c : open) c->ShutdownWhenFlushed();
  if (connections_.empty()) {
    timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer_), nullptr);
  } else {
    uv_timer_start(&stop_timer_, [](uv_timer_t* t) {
      auto* self = static_cast<Impl*>(t->data);
      std::vector<Connection*> left(self->connections_.begin(), self->connections_.end());
      TS_LOG_WARN("closing {} client connection(s) that did not take their last replies",
                  left.size());
      for (Connection* c : left) c->Close();
    }, kStopLingerMs, 0);
  }
}

StoneServer::StoneServer(Stone* stone, StoneServerOptions options)
    : impl_(std::make_unique<Impl>(stone, std::move(options))) {}
StoneServer::~StoneServer() = default;
Status StoneServer::Run(const std::function<void()>& on_listening) {
  return impl_->Run(on_listening);
}
void StoneServer::RequestStop() { impl_->RequestStop(); }

}  // namespace tranship
