// The blocking client library: plain send/recv (poll only for deadlines) on the stone's
// Unix socket. One request at a time; each request is encoded into a reused buffer and
// sent with one send(2), the reply is read in large chunks through the shared
// FrameReader.
#include "client/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "base/clock.h"
#include "client/protocol.h"
#include "client/unix_socket.h"

namespace tranship {
namespace cp = client_protocol;

namespace {
constexpr int64_t kNoDeadline = INT64_MAX;

int64_t DeadlineAfter(int timeout_ms) {
  if (timeout_ms < 0) return kNoDeadline;
  return static_cast<int64_t>(MonotonicNanos()) + int64_t{timeout_ms} * 1000000;
}

// Milliseconds poll() may wait until `deadline` (rounded up; -1 for none).
int PollTimeout(int64_t deadline) {
  if (deadline == kNoDeadline) return -1;
  int64_t left = deadline - static_cast<int64_t>(MonotonicNanos());
  if (left <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((left + 999999) / 1000000, INT_MAX));
}

Status NotRunning(const std::string& name) {
  return Status::IOError(
      fmt::format("The stone '{}' is not running. To fix this run 'startstone {}'.", name, name));
}
}  // namespace

class StoneClient::Impl {
 public:
  Impl(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~Impl() { ::close(fd_); }

  int fd() const { return fd_; }
  Status Hello(int64_t deadline);
  // Sends the request in out_ (id next_id_-1) and waits for the reply of `type`.
  Result<cp::Frame> Call(cp::MsgType type, int64_t deadline = kNoDeadline);
  uint32_t NextId() { return next_id_++; }
  std::string* out() { return &out_; }
  Status CheckNotSubscribed() const;
  Status Subscribe();
  Result<DurableEnd> WaitDurableEnd(int timeout_ms);

 private:
  Status SendAll(int64_t deadline);
  // Blocks until a whole frame is buffered (or the deadline passes).
  Result<cp::Frame> ReadFrame(int64_t deadline);
  Status Lost(std::string_view why) {
    broken_ = true;
    return Status::IOError(fmt::format("lost the connection to the stone '{}': {}", name_, why));
  }

  int fd_;
  std::string name_;
  uint32_t next_id_ = 1;
  std::string out_;
  cp::FrameReader in_{cp::kMaxReplyBodySize};
  bool broken_ = false;
  bool subscribed_ = false;
  uint32_t subscribe_id_ = 0;
};

// The socket is blocking. Without a deadline a request costs one send and one recv;
// with one, MSG_DONTWAIT plus poll keep the wait bounded.
Status StoneClient::Impl::SendAll(int64_t deadline) {
  int flags = MSG_NOSIGNAL | (deadline == kNoDeadline ? 0 : MSG_DONTWAIT);
  size_t off = 0;
  while (off < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + off, out_.size() - off, flags);
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Lost(std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    int rc = ::poll(&p, 1, PollTimeout(deadline));
    if (rc == 0) return Status::TimedOut(fmt::format("sending to the stone '{}'", name_));
    if (rc < 0 && errno != EINTR) return Lost(std::strerror(errno));
  }
  out_.clear();
  return Status::OK();
}

Result<cp::Frame> StoneClient::Impl::ReadFrame(int64_t deadline) {
  for (;;) {
    cp::Frame f;
    switch (in_.Read(&f)) {
      case cp::FrameReader::Next::kFrame: return f;
      case cp::FrameReader::Next::kError: return Lost(in_.error().message());
      case cp::FrameReader::Next::kNeedMore: break;
    }
    int flags = 0;
    if (deadline != kNoDeadline) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, PollTimeout(deadline));
      if (rc == 0) return Status::TimedOut(fmt::format("waiting for the stone '{}'", name_));
      if (rc < 0) {
        if (errno == EINTR) continue;
        return Lost(std::strerror(errno));
      }
      flags = MSG_DONTWAIT;
    }
    std::span<char> room = in_.PrepareWrite(64 << 10);
    ssize_t n = ::recv(fd_, room.data(), room.size(), flags);
    if (n > 0) {
      in_.CommitWrite(static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return Lost("the stone closed the connection");
    if (errno != EINTR && errno != EAGAIN) return Lost(std::strerror(errno));
  }
}

Result<cp::Frame> StoneClient::Impl::Call(cp::MsgType type, int64_t deadline) {
  if (broken_) return Status::IOError(fmt::format("the connection to the stone '{}' is broken", name_));
  uint32_t id = next_id_ - 1;
  if (size_t size = out_.size() - cp::kFrameHeaderSize; size > cp::kMaxBodySize) {
    out_.clear();
    return Status::InvalidArgument(fmt::format("{} request of {} bytes exceeds the {} byte limit",
                                               cp::TypeName(type), size, cp::kMaxBodySize));
  }
  TRANSHIP_RETURN_IF_ERROR(SendAll(deadline));
  Result<cp::Frame> f = ReadFrame(deadline);
  if (!f.ok()) return f;
  if (f->type != cp::ReplyTypeFor(type) || f->request_id != id) {
    return Lost(fmt::format("expected {} {}, got {} {}", cp::TypeName(cp::ReplyTypeFor(type)), id,
                            cp::TypeName(f->type), f->request_id));
  }
  return f;
}

Status StoneClient::Impl::Hello(int64_t deadline) {
  cp::EncodeHello(&out_, NextId(), "tranship client");
  Result<cp::Frame> f = Call(cp::MsgType::kHello, deadline);
  if (!f.ok()) return f.status();
  cp::HelloReply reply;
  return cp::DecodeHelloReply(f->body, &reply);
}

Status StoneClient::Impl::CheckNotSubscribed() const {
  if (!subscribed_) return Status::OK();
  return Status::InvalidArgument(
      "this connection is subscribed to durable-end updates; open another for requests");
}

Status StoneClient::Impl::Subscribe() {
  TRANSHIP_RETURN_IF_ERROR(CheckNotSubscribed());
  subscribe_id_ = NextId();
  cp::EncodeSubscribe(&out_, subscribe_id_);
  Result<cp::Frame> f = Call(cp::MsgType::kSubscribe);
  if (!f.ok()) return f.status();
  TRANSHIP_RETURN_IF_ERROR(cp::DecodeSubscribeReply(f->body));
  subscribed_ = true;
  return Status::OK();
}

Result<DurableEnd> StoneClient::Impl::WaitDurableEnd(int timeout_ms) {
  if (!subscribed_) return Status::InvalidArgument("WaitDurableEnd before Subscribe");
  if (broken_) return Status::IOError(fmt::format("the connection to the stone '{}' is broken", name_));
  Result<cp::Frame> f = ReadFrame(DeadlineAfter(timeout_ms));
  if (!f.ok()) return f.status();
  if (f->type != cp::MsgType::kDurableEnd || f->request_id != subscribe_id_) {
    return Lost(fmt::format("expected a durable end, got {}", cp::TypeName(f->type)));
  }
  DurableEnd end;
  Status st = cp::DecodeDurableEnd(f->body, &end);
  if (!st.ok()) return Lost(st.message());
  return end;
}

Result<std::unique_ptr<StoneClient>> StoneClient::Connect(const std::string& socket_path,
                                                          const std::string& stone_name,
                                                          int timeout_ms) {
  sockaddr_un addr{};
  TRANSHIP_RETURN_IF_ERROR(MakeUnixAddress(socket_path, &addr));
  int64_t deadline = DeadlineAfter(timeout_ms);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket");
  auto impl = std::make_unique<Impl>(fd, stone_name);
  for (;;) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
    int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) return NotRunning(stone_name);
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EINPROGRESS) {
      return Status::IOError(fmt::format("cannot connect to the stone '{}' at {}: {}", stone_name,
                                         socket_path, std::strerror(err)));
    }
    // EAGAIN: the listen backlog is full; a busy stone gets until the deadline.
    pollfd p{fd, POLLOUT, 0};
    int timeout = std::min(PollTimeout(deadline), 10);
    if (::poll(&p, 1, timeout) < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
    if (PollTimeout(deadline) == 0) {
      return Status::TimedOut(fmt::format("the stone '{}' did not accept the connection within {} ms",
                                          stone_name, timeout_ms));
    }
  }
  // Connected: from here on the socket blocks (see SendAll).
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    return Status::FromErrno(errno, "fcntl");
  }
  Status st = impl->Hello(deadline);
  if (!st.ok()) {
    return Status::IOError(fmt::format("stone '{}' refused the login: {}", stone_name, st.message()));
  }
  return std::unique_ptr<StoneClient>(new StoneClient(std::move(impl)));
}

StoneClient::StoneClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoneClient::~StoneClient() = default;

int StoneClient::fd() const { return impl_->fd(); }

Result<ReadResult> StoneClient::Get(std::string_view key) {
  TRANSHIP_RETURN_IF_ERROR(impl_->CheckNotSubscribed());
  cp::EncodeGet(impl_->out(), impl_->NextId(), key);
  Result<cp::Frame> f = impl_->Call(cp::MsgType::kGet);
  if (!f.ok()) return f.status();
  ReadResult r;
  TRANSHIP_RETURN_IF_ERROR(cp::DecodeGetReply(f->body, &r));
  return r;
}

Result<uint64_t> StoneClient::Put(std::string_view key, std::string_view value) {
  TxnRequest txn;
  txn.writes.push_back(WriteOp{WriteOp::Kind::kPut, std::string(key), std::string(value)});
  return Commit(txn);
}

Result<uint64_t> StoneClient::Del(std::string_view key) {
  TxnRequest txn;
  txn.writes.push_back(WriteOp{WriteOp::Kind::kDelete, std::string(key), {}});
  return Commit(txn);
}

Result<uint64_t> StoneClient::Commit(const TxnRequest& txn) {
  TRANSHIP_RETURN_IF_ERROR(impl_->CheckNotSubscribed());
  std::string* out = impl_->out();
  cp::EncodeCommit(out, impl_->NextId(), txn);
  Result<cp::Frame> f = impl_->Call(cp::MsgType::kCommit);
  if (!f.ok()) return f.status();
  uint64_t tid = 0;
  TRANSHIP_RETURN_IF_ERROR(cp::DecodeCommitReply(f->body, &tid));
  return tid;
}

Result<std::string> StoneClient::Admin(std::string_view verb, const std::vector<std::string>& args) {
  TRANSHIP_RETURN_IF_ERROR(impl_->CheckNotSubscribed());
  cp::EncodeAdmin(impl_->out(), impl_->NextId(), verb, args);
  Result<cp::Frame> f = impl_->Call(cp::MsgType::kAdmin);
  if (!f.ok()) return f.status();
  std::string text;
  TRANSHIP_RETURN_IF_ERROR(cp::DecodeAdminReply(f->body, &text));
  return text;
}

Result<StoneInfo> StoneClient::Info() {
  TRANSHIP_RETURN_IF_ERROR(impl_->CheckNotSubscribed());
  cp::EncodeInfo(impl_->out(), impl_->NextId());
  Result<cp::Frame> f = impl_->Call(cp::MsgType::kInfo);
  if (!f.ok()) return f.status();
  StoneInfo info;
  TRANSHIP_RETURN_IF_ERROR(cp::DecodeInfoReply(f->body, &info));
  return info;
}

Status StoneClient::Subscribe() { return impl_->Subscribe(); }

Result<DurableEnd> StoneClient::WaitDurableEnd(int timeout_ms) {
  return impl_->WaitDurableEnd(timeout_ms);
}

// ---- Transaction ----

Result<std::optional<std::string>> Transaction::Get(std::string_view key) {
  // Own writes first, newest wins: the transaction sees what it will commit.
  for (auto it = txn_.writes.rbegin(); it != txn_.writes.rend(); ++it) {
    if (it->key != key) continue;
    if (it->kind == WriteOp::Kind::kDelete) return std::optional<std::string>();
    return std::optional<std::string>(it->value);
  }
  Result<ReadResult> r = client_->Get(key);
  if (!r.ok()) return r.status();
  bool seen = false;
  for (const ReadCheck& c : txn_.reads) seen = seen || c.key == key;
  // The first version read is the one validated; a later different one would conflict
  // anyway.
  if (!seen) txn_.reads.push_back(ReadCheck{std::string(key), r->version});
  if (!r->found) return std::optional<std::string>();
  return std::optional<std::string>(std::move(r->value));
}

void Transaction::Put(std::string_view key, std::string_view value) {
  txn_.writes.push_back(WriteOp{WriteOp::Kind::kPut, std::string(key), std::string(value)});
}

void Transaction::Del(std::string_view key) {
  txn_.writes.push_back(WriteOp{WriteOp::Kind::kDelete, std::string(key), {}});
}

Result<uint64_t> Transaction::Commit() { return client_->Commit(txn_); }

}  // namespace tranship
