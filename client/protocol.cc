#include "client/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "base/coding.h"
#include "tranlog/codec.h"

namespace tranship {
namespace client_protocol {
namespace {

// The buffer a FrameReader keeps between frames; it grows only for a frame that does
// not fit and shrinks back once that frame is consumed, so an idle connection holds
// at most this much.
constexpr size_t kDefaultBufferSize = 64 << 10;
constexpr size_t kDurableEndSize = kDurableEndEncodedSize;
// Entries reserved ahead from a count a peer sent; beyond it vectors grow as entries
// actually decode.
constexpr uint64_t kMaxReservedEntries = 1024;

// Appends the frame header with a zero length; EndFrame patches the length in.
size_t BeginFrame(std::string* dst, MsgType type, uint32_t id) {
  size_t start = dst->size();
  PutFixed32(dst, 0);
  dst->push_back(static_cast<char>(type));
  PutFixed32(dst, id);
  return start;
}

void EndFrame(std::string* dst, size_t start) {
  size_t body = dst->size() - start - kFrameHeaderSize;
  // Wrapping around would turn an oversize frame into a short one; senders check the
  // limit themselves, this catches a sender that forgot.
  assert(body <= UINT32_MAX);
  EncodeFixed32(reinterpret_cast<uint8_t*>(dst->data() + start), static_cast<uint32_t>(body));
}

Status Malformed(const char* what) {
  return Status::Corruption(fmt::format("malformed {} message", what));
}

Status StatusFromWire(uint8_t code, std::string msg) {
  using C = Status::Code;
  switch (static_cast<C>(code)) {
    case C::kOk: return Status::OK();
    case C::kNotFound: return Status::NotFound(std::move(msg));
    case C::kCorruption: return Status::Corruption(std::move(msg));
    case C::kIOError: return Status::IOError(std::move(msg));
    case C::kInvalidArgument: return Status::InvalidArgument(std::move(msg));
    case C::kConflict: return Status::Conflict(std::move(msg));
    case C::kNoSpace: return Status::NoSpace(std::move(msg));
    case C::kBusy: return Status::Busy(std::move(msg));
    case C::kAlreadyExists: return Status::AlreadyExists(std::move(msg));
    case C::kNotSupported: return Status::NotSupported(std::move(msg));
    case C::kAborted: return Status::Aborted(std::move(msg));
    case C::kTimedOut: return Status::TimedOut(std::move(msg));
  }
  // A code this build does not know (a newer server): keep the message.
  return Status::IOError(std::move(msg));
}

// Reads the status byte every reply starts with. Returns false with *st set when the
// reply is an error (or malformed); true when the ok reply's fields follow.
bool ReadReplyStatus(Decoder* d, const char* what, Status* st) {
  uint8_t code;
  if (!d->GetU8(&code)) {
    *st = Malformed(what);
    return false;
  }
  if (code == 0) return true;
  std::string_view msg;
  if (!d->GetLengthPrefixed(&msg, kMaxBodySize) || !d->done()) {
    *st = Malformed(what);
    return false;
  }
  *st = StatusFromWire(code, std::string(msg));
  if (st->ok()) *st = Malformed(what);
  return false;
}

bool GetString(Decoder* d, std::string* out) {
  std::string_view v;
  if (!d->GetLengthPrefixed(&v, kMaxBodySize)) return false;
  out->assign(v);
  return true;
}

}  // namespace

bool IsKnownType(uint8_t type) {
  return (type >= 0x01 && type <= 0x07) || (type >= 0x81 && type <= 0x87) || type == 0x90;
}

const char* TypeName(MsgType type) {
  switch (type) {
    case MsgType::kHello: return "hello";
    case MsgType::kGet: return "get";
    case MsgType::kCommit: return "commit";
    case MsgType::kInfo: return "info";
    case MsgType::kAdmin: return "admin";
    case MsgType::kSubscribe: return "subscribe";
    case MsgType::kArchiveNotify: return "archive notify";
    case MsgType::kHelloReply: return "hello reply";
    case MsgType::kGetReply: return "get reply";
    case MsgType::kCommitReply: return "commit reply";
    case MsgType::kInfoReply: return "info reply";
    case MsgType::kAdminReply: return "admin reply";
    case MsgType::kSubscribeReply: return "subscribe reply";
    case MsgType::kArchiveNotifyReply: return "archive notify reply";
    case MsgType::kDurableEnd: return "durable end";
  }
  return "unknown";
}

// ---- FrameReader ----

FrameReader::FrameReader(uint32_t max_body) : max_body_(max_body) {}

void FrameReader::Compact() {
  if (start_ == 0) return;
  size_t n = end_ - start_;
  if (n > 0) std::memmove(buf_.data(), buf_.data() + start_, n);
  start_ = 0;
  end_ = n;
}

std::span<char> FrameReader::PrepareWrite(size_t min) {
  size_t need = min;
  // A partly buffered frame whose header is valid: make room for all of it at once.
  if (error_.ok() && buffered() >= kFrameHeaderSize) {
    uint32_t body = DecodeFixed32(reinterpret_cast<const uint8_t*>(buf_.data() + start_));
    if (body <= max_body_) {
      size_t frame = kFrameHeaderSize + body;
      if (frame > buffered()) need = std::max(need, frame - buffered());
    }
  }
  if (start_ == end_) {
    start_ = end_ = 0;
    // The big frame that grew the buffer is consumed: give the memory back.
    if (buf_.size() > kDefaultBufferSize && need <= kDefaultBufferSize) {
      std::string().swap(buf_);
    }
  }
  if (buf_.size() - end_ < need) {
    Compact();
    if (buf_.size() - end_ < need) {
      // `need` already covers the whole frame, so growing exactly (no doubling) keeps
      // a connection's buffer within one maximal frame plus one read.
      buf_.resize(std::max(end_ + need, kDefaultBufferSize));
    }
  }
  return std::span<char>(buf_.data() + end_, buf_.size() - end_);
}

void FrameReader::CommitWrite(size_t n) {
  assert(end_ + n <= buf_.size());
  end_ += n;
}

void FrameReader::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    std::span<char> room = PrepareWrite(bytes.size());
    size_t n = std::min(room.size(), bytes.size());
    std::memcpy(room.data(), bytes.data(), n);
    CommitWrite(n);
    bytes.remove_prefix(n);
  }
}

FrameReader::Next FrameReader::Read(Frame* out) {
  if (!error_.ok()) return Next::kError;
  if (buffered() < kFrameHeaderSize) return Next::kNeedMore;
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + start_);
  uint32_t body = DecodeFixed32(p);
  uint8_t type = p[4];
  // Check the header before waiting for (and buffering) the body.
  if (!IsKnownType(type)) {
    error_ = Status::Corruption(fmt::format("unknown message type 0x{:02x}", type));
    return Next::kError;
  }
  if (body > max_body_) {
    error_ = Status::Corruption(
        fmt::format("message of {} bytes exceeds the limit of {} bytes", body, max_body_));
    return Next::kError;
  }
  if (buffered() < kFrameHeaderSize + body) return Next::kNeedMore;
  out->type = static_cast<MsgType>(type);
  out->request_id = DecodeFixed32(p + 5);
  out->body = std::string_view(buf_.data() + start_ + kFrameHeaderSize, body);
  start_ += kFrameHeaderSize + body;
  return Next::kFrame;
}

// ---- Requests ----

void EncodeHello(std::string* dst, uint32_t id, std::string_view client_name) {
  size_t f = BeginFrame(dst, MsgType::kHello, id);
  PutFixed32(dst, kMagic);
  PutFixed16(dst, kProtocolVersion);
  PutLengthPrefixed(dst, client_name);  // for the server's log only
  EndFrame(dst, f);
}

Status DecodeHello(std::string_view body, HelloRequest* out) {  // mirrors EncodeHello
  Decoder d(AsBytes(body));
  if (!d.GetFixed32(&out->magic) || !d.GetFixed16(&out->protocol_version) ||
      !d.GetLengthPrefixed(&out->client_name, 1024) || !d.done()) {
    return Malformed("hello");
  }
  return Status::OK();
}

void EncodeGet(std::string* dst, uint32_t id, std::string_view key) {
  size_t f = BeginFrame(dst, MsgType::kGet, id);
  PutLengthPrefixed(dst, key);
  EndFrame(dst, f);
}

Status DecodeGet(std::string_view body, std::string_view* key) {  // mirrors EncodeGet
  Decoder d(AsBytes(body));
  if (!d.GetLengthPrefixed(key, kMaxBodySize) || !d.done()) return Malformed("get");
  return Status::OK();
}

void EncodeCommit(std::string* dst, uint32_t id, const TxnRequest& txn) {
  size_t f = BeginFrame(dst, MsgType::kCommit, id);
  PutVarint64(dst, txn.reads.size());
  for (const ReadCheck& r : txn.reads) {
    PutLengthPrefixed(dst, r.key);
    PutFixed64(dst, r.version);  // TID that last wrote the key when read; 0 = absent
  }
  PutVarint64(dst, txn.writes.size());
  for (const WriteOp& w : txn.writes) {
    dst->push_back(static_cast<char>(w.kind));
    PutLengthPrefixed(dst, w.key);
    if (w.kind == WriteOp::Kind::kPut) PutLengthPrefixed(dst, w.value);  // deletes: none
  }
  EndFrame(dst, f);
}

Status DecodeCommit(std::string_view body, TxnRequest* out) {  // mirrors EncodeCommit
  Decoder d(AsBytes(body));
  uint64_t n;
  // A count is checked against the bytes left (each entry takes at least 9 resp. 2),
  // and entries are appended as they decode: an entry is far larger in memory than its
  // minimal encoding (a ReadCheck 40 bytes for 9, a WriteOp 72 for 2), so reserving a
  // forged count up front would allocate many times the frame.
  if (!d.GetVarint64(&n) || n > d.remaining() / 9) return Malformed("commit");
  out->reads.clear();
  out->reads.reserve(static_cast<size_t>(std::min<uint64_t>(n, kMaxReservedEntries)));
  for (uint64_t i = 0; i < n; i++) {
    ReadCheck& r = out->reads.emplace_back();
    std::string_view key;
    if (!d.GetLengthPrefixed(&key, kMaxBodySize) || !d.GetFixed64(&r.version)) {
      return Malformed("commit");
    }
    r.key.assign(key);
  }
  if (!d.GetVarint64(&n) || n > d.remaining() / 2) return Malformed("commit");
  out->writes.clear();
  out->writes.reserve(static_cast<size_t>(std::min<uint64_t>(n, kMaxReservedEntries)));
  for (uint64_t i = 0; i < n; i++) {
    uint8_t kind;
    std::string_view key, value;
    if (!d.GetU8(&kind) || !d.GetLengthPrefixed(&key, kMaxBodySize)) return Malformed("commit");
    if (kind == static_cast<uint8_t>(WriteOp::Kind::kPut)) {
      if (!d.GetLengthPrefixed(&value, kMaxBodySize)) return Malformed("commit");
    } else if (kind != static_cast<uint8_t>(WriteOp::Kind::kDelete)) {
      return Malformed("commit");
    }
    WriteOp& w = out->writes.emplace_back();
    w.kind = static_cast<WriteOp::Kind>(kind);
    w.key.assign(key);
    w.value.assign(value);
  }
  if (!d.done()) return Malformed("commit");
  return Status::OK();
}

void EncodeInfo(std::string* dst, uint32_t id) {
  EndFrame(dst, BeginFrame(dst, MsgType::kInfo, id));
}

void EncodeAdmin(std::string* dst, uint32_t id, std::string_view verb,
                 const std::vector<std::string>& args) {
  size_t f = BeginFrame(dst, MsgType::kAdmin, id);
  PutLengthPrefixed(dst, verb);
  PutVarint64(dst, args.size());
  for (const std::string& a : args) PutLengthPrefixed(dst, a);
  EndFrame(dst, f);
}

Status DecodeAdmin(std::string_view body, std::string* verb,
                   std::vector<std::string>* args) {  // mirrors EncodeAdmin
  Decoder d(AsBytes(body));
  uint64_t n;
  if (!GetString(&d, verb) || !d.GetVarint64(&n) || n > d.remaining()) {
    return Malformed("admin");
  }
  // Appended as they decode, as in DecodeCommit: a string is 32 bytes for 1 on the wire.
  args->clear();
  args->reserve(static_cast<size_t>(std::min<uint64_t>(n, kMaxReservedEntries)));
  for (uint64_t i = 0; i < n; i++) {
    if (!GetString(&d, &args->emplace_back())) return Malformed("admin");
  }
  if (!d.done()) return Malformed("admin");
  return Status::OK();
}

void EncodeSubscribe(std::string* dst, uint32_t id) {
  EndFrame(dst, BeginFrame(dst, MsgType::kSubscribe, id));
}

Status DecodeEmpty(std::string_view body, MsgType type) {  // mirrors EncodeInfo/Subscribe
  if (!body.empty()) return Malformed(TypeName(type));
  return Status::OK();
}

void EncodeArchiveNotify(std::string* dst, uint32_t id, const DurableEnd& end) {
  size_t f = BeginFrame(dst, MsgType::kArchiveNotify, id);
  PutDurableEnd(dst, end);
  EndFrame(dst, f);
}

Status DecodeArchiveNotify(std::string_view body, DurableEnd* end) {  // mirrors EncodeArchiveNotify
  if (body.size() != kDurableEndSize) return Malformed("archive notify");
  Decoder d(AsBytes(body));
  if (!GetDurableEnd(&d, end)) return Malformed("archive notify");
  return Status::OK();
}

// ---- Replies ----

void EncodeErrorReply(std::string* dst, MsgType request, uint32_t id, const Status& status) {
  assert(!status.ok());
  size_t f = BeginFrame(dst, ReplyTypeFor(request), id);
  dst->push_back(static_cast<char>(status.code()));
  // One line, bounded: the message is for an operator's terminal.
  std::string_view msg = status.message();
  msg = msg.substr(0, std::min(msg.find('\n'), size_t{4096}));
  PutLengthPrefixed(dst, msg);
  EndFrame(dst, f);
}

void EncodeHelloReply(std::string* dst, uint32_t id, const HelloReply& reply) {
  size_t f = BeginFrame(dst, MsgType::kHelloReply, id);
  dst->push_back(0);
  PutFixed16(dst, reply.protocol_version);
  PutLengthPrefixed(dst, reply.server_version);
  PutLengthPrefixed(dst, reply.stone_name);
  EndFrame(dst, f);
}

Status DecodeHelloReply(std::string_view body, HelloReply* out) {  // mirrors EncodeHelloReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "hello reply", &st)) return st;
  if (!d.GetFixed16(&out->protocol_version) || !GetString(&d, &out->server_version) ||
      !GetString(&d, &out->stone_name) || !d.done()) {
    return Malformed("hello reply");
  }
  return Status::OK();
}

void EncodeGetReply(std::string* dst, uint32_t id, const ReadResult& result) {
  size_t f = BeginFrame(dst, MsgType::kGetReply, id);
  dst->push_back(0);
  dst->push_back(result.found ? 1 : 0);
  PutFixed64(dst, result.version);
  PutLengthPrefixed(dst, result.value);
  EndFrame(dst, f);
}

Status DecodeGetReply(std::string_view body, ReadResult* out) {  // mirrors EncodeGetReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "get reply", &st)) return st;
  uint8_t found;
  if (!d.GetU8(&found) || found > 1 || !d.GetFixed64(&out->version) ||
      !GetString(&d, &out->value) || !d.done()) {
    return Malformed("get reply");
  }
  out->found = found == 1;
  return Status::OK();
}

void EncodeCommitReply(std::string* dst, uint32_t id, uint64_t tid) {
  size_t f = BeginFrame(dst, MsgType::kCommitReply, id);
  dst->push_back(0);
  PutFixed64(dst, tid);
  EndFrame(dst, f);
}

Status DecodeCommitReply(std::string_view body, uint64_t* tid) {  // mirrors EncodeCommitReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "commit reply", &st)) return st;
  if (!d.GetFixed64(tid) || !d.done()) return Malformed("commit reply");
  return Status::OK();
}

void EncodeInfoReply(std::string* dst, uint32_t id, const StoneInfo& info) {
  size_t f = BeginFrame(dst, MsgType::kInfoReply, id);
  dst->push_back(0);
  PutLengthPrefixed(dst, info.name);
  PutLengthPrefixed(dst, info.version);
  PutFixed32(dst, info.pid);
  PutFixed64(dst, info.started_us);
  PutLengthPrefixed(dst, info.state);
  PutDurableEnd(dst, info.durable_end);
  const StoneStats& s = info.stats;
  PutFixed64(dst, s.commits);
  PutFixed64(dst, s.conflicts);
  PutFixed64(dst, s.batches);
  PutFixed64(dst, s.tranlog_bytes);
  PutFixed64(dst, s.keys);
  PutFixed64(dst, s.last_checkpoint_tid);
  PutFixed64(dst, s.last_checkpoint_us);
  dst->push_back(static_cast<char>((s.restore_mode ? 1 : 0) | (s.commits_suspended ? 2 : 0)));
  PutLengthPrefixed(dst, s.last_error);
  PutFixed32(dst, info.logreceivers);
  PutDurableEnd(dst, info.archive_end);
  PutDurableEnd(dst, info.restored);
  dst->push_back(static_cast<char>(info.restore_flags));
  EndFrame(dst, f);
}

Status DecodeInfoReply(std::string_view body, StoneInfo* out) {  // mirrors EncodeInfoReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "info reply", &st)) return st;
  StoneStats& s = out->stats;
  uint8_t flags;
  if (!GetString(&d, &out->name) || !GetString(&d, &out->version) ||
      !d.GetFixed32(&out->pid) || !d.GetFixed64(&out->started_us) ||
      !GetString(&d, &out->state) || !GetDurableEnd(&d, &out->durable_end) ||
      !d.GetFixed64(&s.commits) || !d.GetFixed64(&s.conflicts) || !d.GetFixed64(&s.batches) ||
      !d.GetFixed64(&s.tranlog_bytes) || !d.GetFixed64(&s.keys) ||
      !d.GetFixed64(&s.last_checkpoint_tid) || !d.GetFixed64(&s.last_checkpoint_us) ||
      !d.GetU8(&flags) || flags > 3 || !GetString(&d, &s.last_error) ||
      !d.GetFixed32(&out->logreceivers) || !GetDurableEnd(&d, &out->archive_end) ||
      !GetDurableEnd(&d, &out->restored) || !d.GetU8(&out->restore_flags) ||
      out->restore_flags > 7 || !d.done()) {
    return Malformed("info reply");
  }
  s.restore_mode = (flags & 1) != 0;
  s.commits_suspended = (flags & 2) != 0;
  return Status::OK();
}

void EncodeAdminReply(std::string* dst, uint32_t id, std::string_view text) {
  size_t f = BeginFrame(dst, MsgType::kAdminReply, id);
  dst->push_back(0);
  PutLengthPrefixed(dst, text.substr(0, kMaxBodySize));  // operator text; never near it
  EndFrame(dst, f);
}

Status DecodeAdminReply(std::string_view body, std::string* text) {  // mirrors EncodeAdminReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "admin reply", &st)) return st;
  if (!GetString(&d, text) || !d.done()) return Malformed("admin reply");
  return Status::OK();
}

void EncodeSubscribeReply(std::string* dst, uint32_t id) {
  size_t f = BeginFrame(dst, MsgType::kSubscribeReply, id);
  dst->push_back(0);
  EndFrame(dst, f);
}

Status DecodeSubscribeReply(std::string_view body) {  // mirrors EncodeSubscribeReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "subscribe reply", &st)) return st;
  if (!d.done()) return Malformed("subscribe reply");
  return Status::OK();
}

void EncodeArchiveNotifyReply(std::string* dst, uint32_t id) {
  size_t f = BeginFrame(dst, MsgType::kArchiveNotifyReply, id);
  dst->push_back(0);
  EndFrame(dst, f);
}

Status DecodeArchiveNotifyReply(std::string_view body) {  // mirrors EncodeArchiveNotifyReply
  Decoder d(AsBytes(body));
  Status st;
  if (!ReadReplyStatus(&d, "archive notify reply", &st)) return st;
  if (!d.done()) return Malformed("archive notify reply");
  return Status::OK();
}

void EncodeDurableEnd(std::string* dst, uint32_t subscribe_id, const DurableEnd& end) {
  size_t f = BeginFrame(dst, MsgType::kDurableEnd, subscribe_id);
  PutDurableEnd(dst, end);
  EndFrame(dst, f);
}

Status DecodeDurableEnd(std::string_view body, DurableEnd* out) {  // mirrors EncodeDurableEnd
  if (body.size() != kDurableEndSize) return Malformed("durable end");
  Decoder d(AsBytes(body));
  if (!GetDurableEnd(&d, out)) return Malformed("durable end");
  return Status::OK();
}

}  // namespace client_protocol
}  // namespace tranship
