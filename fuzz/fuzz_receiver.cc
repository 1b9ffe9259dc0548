// Fuzz target: the logreceiver's state machine (logreceiver/receiver.h) against a
// hostile logsender. The real LogReceiver runs on a fresh uv loop over a MemoryPipe,
// with its archive in a MemoryEnv; the input is what the "sender" writes to it.
//
// Input: one control byte, then the sender's bytes.
//   control bits 0..1: the archive before the run (from sample_history.h)
//     0 = empty (the Hello asks from tranlog 1)
//     1 = tranlog1 up to a record boundary in its middle
//     2 = tranlog1 whole (it ends with a log switch: the archive ends at tranlog 2 offset 0)
//     3 = tranlog1 whole and tranlog2 up to the junction where lineage B (tranlog3) leaves
//   control bits 2..7: n; the bytes are written in pieces of n + 1 bytes (63: at once),
//     each once the receiver has said Hello on its connection and gone quiet. When the
//     receiver drops a connection the rest of that piece is lost with it, and the next
//     piece goes to its next connection (every retry delay is 0, so it reconnects at
//     once): Welcome, Refuse, Keepalive and Data in any order, over several connections.
//
// The loop is never left to wait on a timer: it runs in non-blocking steps until nothing
// is due (uv_backend_timeout), waiting only for the receiver's write job on the thread pool (as for a disk).
//
// Checked, with FUZZ_CHECK:
//   - the receiver's own bytes: a Hello first on each connection, then only Ack and
//     Keepalive frames, all well-formed; the Hello resumes from the archive's end
//   - invariant 4: every Ack names a position the archive has durably reached (at most
//     its durable end when the loop goes quiet), a record boundary of the archive with
//     the TID of the record before it; Acks never go back
//   - a connection whose first decisive frame (after Keepalives) is a Welcome starting
//     elsewhere than a non-empty archive's end (and not at a later file's offset 0, a
//     junction), a Refuse, Data before the Welcome, or anything malformed, is closed by
//     the receiver with no Ack and nothing written; after a Refuse the state is refused
//   - after Stop: every handle closed (uv_loop_close succeeds), nothing unsynced, and a
//     fresh Archive scan of the files finds exactly the receiver's durable end without
//     cutting a byte: only whole, checked records were written
// Memory is not visible from here (what the receiver holds is private): scripts/fuzz runs
// this target under the malloc limit of the receivers' documented bound (one Data frame
// of up to 64 MiB buffered and another decompressed).
//
// Set FUZZ_RECEIVER_LOG=1 to see the receiver's log on stderr.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "tranlog/format.h"
#include "tranlog/reader.h"
#include "fuzz/check.h"
#include "fuzz/memory_env.h"
#include "fuzz/sample_history.h"
#include "logreceiver/archive.h"
#include "logreceiver/receiver.h"
#include "wire/protocol.h"
#include "wire/transport.h"

namespace tranship::fuzz {
namespace {

constexpr const char* kArchiveDir = "/standby/archive";
constexpr int kMaxSteps = 400;  // loop steps per quiet wait (a hang otherwise)

const SampleHistory& Sample() {
  static SampleHistory* h = [] {
    if (std::getenv("FUZZ_RECEIVER_LOG") == nullptr) {
      if (!LogInit("/dev/null", LogLevel::kError).ok()) LogSetLevel(LogLevel::kError);
    }
    auto* s = new SampleHistory;
    WriteSampleHistory(s);
    return s;
  }();
  return *h;
}

// The records of file `id` of the sample, without its preallocated zeros, up to `end`
// (0: all of them).
std::string SampleFile(uint64_t id, uint64_t end = 0) {
  const SampleHistory& h = Sample();
  auto r = tranlog::FileReader::Open(const_cast<MemoryEnv*>(&h.env), h.Path(id));
  if (!r.ok()) std::abort();
  tranlog::RecordRef rec;
  while ((end == 0 || (*r)->offset() < end) &&
         (*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
  }
  return h.env.Get(h.Path(id)).substr(0, (*r)->offset());
}

std::string ArchivePath(uint64_t id) {
  return JoinPath(kArchiveDir, tranlog::FileName("tranlog", id));
}

void SeedArchive(int kind, MemoryEnv* env) {
  switch (kind) {
    case 0: break;
    case 1: {
      // A record boundary in the middle of tranlog1: the end of its 4th record.
      auto r = tranlog::FileReader::Open(const_cast<MemoryEnv*>(&Sample().env),
                                         Sample().Path(1));
      if (!r.ok()) std::abort();
      tranlog::RecordRef rec;
      for (int i = 0; i < 4; i++) {
        if ((*r)->Next(&rec) != tranlog::FileReader::Outcome::kRecord) std::abort();
      }
      env->Put(ArchivePath(1), SampleFile(1, (*r)->offset()));
      break;
    }
    case 2: env->Put(ArchivePath(1), SampleFile(1)); break;
    case 3:
      env->Put(ArchivePath(1), SampleFile(1));
      env->Put(ArchivePath(2), SampleFile(2, Sample().junction.pos.offset));
      break;
  }
}

// Every record boundary of the archive, with the TID of the record before it; after a
// log switch, offset 0 of the next file too.
std::map<Position, uint64_t> Boundaries(MemoryEnv* env) {
  std::map<Position, uint64_t> out;
  auto names = env->GetChildren(kArchiveDir);
  FUZZ_CHECK(names.ok());
  for (const std::string& name : *names) {
    uint64_t id = 0;
    if (!tranlog::ParseFileName(name, "tranlog", &id)) continue;
    auto r = tranlog::FileReader::Open(env, JoinPath(kArchiveDir, name));
    if (!r.ok()) continue;  // a file without a whole header has no boundary
    tranlog::RecordRef rec;
    while ((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
      out[Position{id, (*r)->offset()}] = rec.header.tid;
      if (rec.header.type == tranlog::RecordType::kLogSwitch) {
        out[Position{id + 1, 0}] = rec.header.tid;
      }
    }
  }
  return out;
}

// What the receiver must do with a connection, from the first frame that decides it.
enum class Fate { kUndecided, kWelcomed, kBadWelcome, kRefused, kDropped };

// The sender's end of one connection.
struct Conn {
  std::unique_ptr<wire::Transport> end;
  bool ready = false;
  bool closed = false;
  wire::FrameReader from_receiver{wire::kMaxReceiverFrame};
  std::optional<wire::Hello> hello;
  int acks = 0;
  // The receiver's reading of what this end sent, mirrored up to the decisive frame.
  wire::FrameReader mirror{wire::kMaxSenderHandshakeFrame};
  Fate fate = Fate::kUndecided;
};

class Run {
 public:
  explicit Run(int archive_kind) {
    (void)Sample();  // quiets the log first
    SeedArchive(archive_kind, &env_);
    FUZZ_CHECK(uv_loop_init(&loop_) == 0);
    logreceiver::ReceiverOptions o;
    o.stone = "standby1";
    o.host = "standby-host";
    o.master = "primary:7000";
    o.env = &env_;
    o.archive_dir = kArchiveDir;
    o.min_backoff_ms = 0;
    o.max_backoff_ms = 0;
    o.refused_retry_ms = 0;
    o.disk_full_retry_ms = 0;
    receiver_ = std::make_unique<logreceiver::LogReceiver>(
        &loop_, std::move(o),
        [this](std::function<void(Result<std::unique_ptr<wire::Transport>>)> done) {
          FUZZ_CHECK(!connect_);  // one attempt at a time
          connect_ = std::move(done);
        });
    FUZZ_CHECK(receiver_->Start().ok());  // the seeded archive is valid
    WaitQuiet();
  }

  // Writes the sender's bytes, piece by piece, each to the connection open at the time.
  void Feed(std::string_view stream, size_t piece) {
    for (size_t at = 0; at < stream.size(); at += piece) {
      Conn* c = Current();
      if (c == nullptr) break;  // the receiver is not connected: nothing to write to
      std::string_view bytes = stream.substr(at, piece);
      Mirror(c, bytes);
      (void)c->end->Write(std::string(bytes));
      WaitQuiet();
      CheckFate(c);
    }
  }

  // Stops the receiver and checks the archive it leaves.
  void Finish() {
    receiver_->Stop("the fuzz input ends");
    int steps = 0;
    while (steps++ < kMaxSteps) {
      Step();
      if (uv_run(&loop_, UV_RUN_NOWAIT) == 0) break;
    }
    FUZZ_CHECK(steps < kMaxSteps);  // every handle closed: nothing hangs
    for (Conn& c : conns_) FUZZ_CHECK(c.closed || !c.end);
    FUZZ_CHECK(!receiver_->syncing());
    const logreceiver::Archive& a = receiver_->archive();
    FUZZ_CHECK(a.unsynced_bytes() == 0);
    FUZZ_CHECK(a.written_end() == a.durable_end());
    logreceiver::StreamEnd end = a.durable_end();
    CheckAcks(end.pos);
    if (std::getenv("FUZZ_RECEIVER_LOG") != nullptr) {
      std::fprintf(stderr, "fuzz_receiver: %zu connection(s), %zu ack(s), archive ends at %s\n",
                   conns_.size(), acks_.size(), end.anchor ? "-" : end.pos.ToString().c_str());
    }
    receiver_.reset();
    conns_.clear();  // the pipes' timers close once both ends are gone
    for (steps = 0; steps < kMaxSteps && uv_run(&loop_, UV_RUN_NOWAIT) != 0; steps++) {
    }
    FUZZ_CHECK(uv_loop_close(&loop_) == 0);

    // Only whole, checked records were written: a fresh scan cuts nothing and ends
    // where the receiver's archive ended.
    auto names = env_.GetChildren(kArchiveDir);
    FUZZ_CHECK(names.ok());
    std::map<std::string, std::string> before;
    for (const std::string& n : *names) before[n] = env_.Get(JoinPath(kArchiveDir, n));
    logreceiver::Archive again(&env_, kArchiveDir, "tranlog");
    FUZZ_CHECK(again.Scan().ok());
    FUZZ_CHECK(again.durable_end().pos == end.pos);
    FUZZ_CHECK(again.durable_end().tid == end.tid);
    FUZZ_CHECK(again.durable_end().chain == end.chain);
    FUZZ_CHECK(again.durable_end().lineage == end.lineage);
    FUZZ_CHECK(again.empty() == end.anchor);
    auto after = env_.GetChildren(kArchiveDir);
    FUZZ_CHECK(after.ok() && after->size() == before.size());
    for (const auto& [n, content] : before) {
      FUZZ_CHECK(env_.Get(JoinPath(kArchiveDir, n)) == content);
    }
  }

 private:
  // One loop step without waiting, then the write job if one runs, then a pending
  // connection attempt.
  void Step() {
    uv_run(&loop_, UV_RUN_NOWAIT);
    while (receiver_->syncing()) uv_run(&loop_, UV_RUN_ONCE);
    if (connect_) {
      auto done = std::move(connect_);
      connect_ = nullptr;
      auto [theirs, ours] = wire::MemoryPipe(&loop_);
      conns_.emplace_back();
      Conn* c = &conns_.back();
      c->end = std::move(ours);
      size_t index = conns_.size() - 1;
      wire::Transport::Callbacks cb;
      cb.on_ready = [this, index] { conns_[index].ready = true; };
      cb.on_data = [this, index](std::string_view bytes) { FromReceiver(index, bytes); };
      cb.on_writable = [] {};
      cb.on_closed = [this, index](const Status&) { conns_[index].closed = true; };
      c->end->Start(std::move(cb));
      done(std::move(theirs));
    }
  }

  // Steps until nothing is due: no timer at 0 (the pipe's deliveries, a retry), no
  // handle closing, no connection attempt pending. The receiver's tick timer is never
  // waited for.
  void WaitQuiet() {
    int steps = 0;
    do {
      Step();
    } while (++steps < kMaxSteps && (connect_ || uv_backend_timeout(&loop_) == 0));
    FUZZ_CHECK(steps < kMaxSteps);  // the receiver went quiet: no endless exchange
    CheckAcks(receiver_->archive().durable_end().pos);
  }

  // The connection to write to: the newest, if open and the Hello arrived on it.
  Conn* Current() {
    if (conns_.empty()) return nullptr;
    Conn* c = &conns_.back();
    if (!c->ready || c->closed || !c->hello) return nullptr;
    return c;
  }

  void FromReceiver(size_t index, std::string_view bytes) {
    Conn& c = conns_[index];
    c.from_receiver.Feed(bytes);
    wire::Frame f;
    wire::FrameReader::Result r;
    while ((r = c.from_receiver.Next(&f)) == wire::FrameReader::Result::kFrame) {
      if (!c.hello) {
        FUZZ_CHECK(f.type == wire::MsgType::kHello);
        wire::Hello h;
        FUZZ_CHECK(wire::DecodeHello(f.body, &h).ok());
        FUZZ_CHECK(h.receiver_stone == "standby1");
        // The Hello resumes from the archive's end (nothing is written before it).
        const logreceiver::StreamEnd& end = receiver_->archive().durable_end();
        if (end.anchor) {
          FUZZ_CHECK(h.mode == wire::StartMode::kFromStart);
        } else {
          FUZZ_CHECK(h.mode == wire::StartMode::kResume && h.resume == end.pos &&
                     h.resume_tid == end.tid && h.lineage == end.lineage);
          FUZZ_CHECK(last_ack_.durable <= h.resume);
        }
        c.hello = h;
        continue;
      }
      if (f.type == wire::MsgType::kKeepalive) {
        wire::Keepalive k;
        FUZZ_CHECK(wire::DecodeKeepalive(f.body, &k).ok());
        continue;
      }
      FUZZ_CHECK(f.type == wire::MsgType::kAck);
      wire::Ack a;
      FUZZ_CHECK(wire::DecodeAck(f.body, &a).ok());
      FUZZ_CHECK(c.fate == Fate::kWelcomed);  // only a welcomed sender is acknowledged
      FUZZ_CHECK(last_ack_.durable <= a.durable);  // never back
      if (c.hello->mode == wire::StartMode::kResume) FUZZ_CHECK(c.hello->resume <= a.durable);
      last_ack_ = a;
      acks_.push_back(a);
      c.acks++;
    }
    FUZZ_CHECK(r == wire::FrameReader::Result::kNeedMore);
  }

  // Follows the receiver's reading of `bytes` up to the frame that decides the
  // connection's fate (HandleFrame: Keepalives are read, anything else decides).
  void Mirror(Conn* c, std::string_view bytes) {
    if (c->fate != Fate::kUndecided) return;
    c->mirror.Feed(bytes);
    wire::Frame f;
    while (c->fate == Fate::kUndecided) {
      wire::FrameReader::Result r = c->mirror.Next(&f);
      if (r == wire::FrameReader::Result::kNeedMore) return;
      if (r == wire::FrameReader::Result::kError) {
        c->fate = Fate::kDropped;
        return;
      }
      switch (f.type) {
        case wire::MsgType::kKeepalive: {
          wire::Keepalive k;
          if (!wire::DecodeKeepalive(f.body, &k).ok()) c->fate = Fate::kDropped;
          break;
        }
        case wire::MsgType::kRefuse: {
          wire::Refuse m;
          c->fate = wire::DecodeRefuse(f.body, &m).ok() ? Fate::kRefused : Fate::kDropped;
          break;
        }
        case wire::MsgType::kWelcome: {
          wire::Welcome w;
          if (!wire::DecodeWelcome(f.body, &w).ok()) {
            c->fate = Fate::kDropped;
            break;
          }
          const wire::Hello& h = *c->hello;
          bool junction = w.start.offset == 0 && w.start.file_id > h.resume.file_id;
          bool mismatch =
              h.mode == wire::StartMode::kResume && w.start != h.resume && !junction;
          c->fate = mismatch ? Fate::kBadWelcome : Fate::kWelcomed;
          break;
        }
        default:  // Data before the Welcome, or a receiver's message
          c->fate = Fate::kDropped;
          break;
      }
    }
  }

  // Once the loop is quiet after a piece: a connection the receiver must refuse is
  // closed, with nothing acknowledged and nothing written.
  void CheckFate(const Conn* c) {
    switch (c->fate) {
      case Fate::kUndecided:
      case Fate::kWelcomed:
        return;
      case Fate::kRefused:
      case Fate::kBadWelcome:
      case Fate::kDropped:
        break;
    }
    FUZZ_CHECK(c->closed);
    FUZZ_CHECK(c->acks == 0);
    const logreceiver::StreamEnd& end = receiver_->archive().durable_end();
    if (c->hello->mode == wire::StartMode::kResume) {
      FUZZ_CHECK(end.pos == c->hello->resume && !end.anchor);
    } else {
      FUZZ_CHECK(end.anchor);
    }
    if (c->fate == Fate::kRefused) {
      FUZZ_CHECK(receiver_->state() == logreceiver::LogReceiver::State::kRefused);
    }
  }

  // Invariant 4 over every Ack so far, against the archive's durable end now.
  void CheckAcks(Position durable) {
    if (acks_.empty()) return;
    FUZZ_CHECK(acks_.back().durable <= durable);
    if (checked_acks_ == acks_.size()) return;
    std::map<Position, uint64_t> bounds = Boundaries(&env_);
    for (; checked_acks_ < acks_.size(); checked_acks_++) {
      const wire::Ack& a = acks_[checked_acks_];
      auto it = bounds.find(a.durable);
      FUZZ_CHECK(it != bounds.end());  // a record boundary of the archive
      FUZZ_CHECK(it->second == a.tid);
    }
  }

  MemoryEnv env_;
  uv_loop_t loop_;
  std::unique_ptr<logreceiver::LogReceiver> receiver_;
  std::function<void(Result<std::unique_ptr<wire::Transport>>)> connect_;
  std::deque<Conn> conns_;  // stable addresses
  std::vector<wire::Ack> acks_;
  size_t checked_acks_ = 0;
  wire::Ack last_ack_;
};

}  // namespace
}  // namespace tranship::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int archive_kind = data[0] & 3;
  const size_t piece = (data[0] >> 2) == 63 ? size : (data[0] >> 2) + 1u;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  tranship::fuzz::Run run(archive_kind);
  run.Feed(stream, piece);
  run.Finish();
  return 0;
}
