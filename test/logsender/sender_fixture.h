#pragma once
// A LogSender on a real libuv loop, a real tranlog directory written by tranlog::Writer,
// and fake logreceivers on the other ends of memory pipes: the sender's logic without
// sockets. Tests drive the loop until a condition holds (with a deadline) and end by
// proving every handle closed.

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/env.h"
#include "tranlog/format.h"
#include "tranlog/writer.h"
#include "logsender/logsender.h"
#include "test/test_util.h"
#include "wire/batch.h"
#include "wire/protocol.h"
#include "wire/transport.h"

namespace tranship::logsender::test {

using tranship::test::TempDir;

// The receiving end of one memory pipe: records every frame the sender sends.
struct FakeReceiver {
  std::unique_ptr<wire::Transport> t;
  wire::FrameReader reader{wire::kMaxSenderFrame};
  std::vector<wire::Welcome> welcomes;
  std::vector<wire::Refuse> refusals;
  std::vector<wire::Keepalive> keepalives;
  struct Data {
    wire::DataHeader h;
    std::string raw;  // decompressed
  };
  std::vector<Data> data;
  bool closed = false;
  Status close_reason;
  bool garbage_from_sender = false;

  void Start() {
    wire::Transport::Callbacks cb;
    cb.on_data = [this](std::string_view b) { OnData(b); };
    cb.on_closed = [this](const Status& s) {
      closed = true;
      close_reason = s;
    };
    t->Start(std::move(cb));
  }
  void OnData(std::string_view b) {
    reader.Feed(b);
    wire::Frame f;
    wire::FrameReader::Result r;
    while ((r = reader.Next(&f)) == wire::FrameReader::Result::kFrame) {
      switch (f.type) {
        case wire::MsgType::kWelcome: {
          wire::Welcome w;
          REQUIRE(wire::DecodeWelcome(f.body, &w).ok());
          welcomes.push_back(w);
          break;
        }
        case wire::MsgType::kRefuse: {
          wire::Refuse x;
          REQUIRE(wire::DecodeRefuse(f.body, &x).ok());
          refusals.push_back(x);
          break;
        }
        case wire::MsgType::kKeepalive: {
          wire::Keepalive k;
          REQUIRE(wire::DecodeKeepalive(f.body, &k).ok());
          keepalives.push_back(k);
          break;
        }
        case wire::MsgType::kData: {
          Data d;
          std::string_view payload;
          REQUIRE(wire::DecodeData(f.body, &d.h, &payload).ok());
          if (d.h.flags & wire::kDataZstd) {
            wire::Decompressor z;
            REQUIRE(z.Decompress(payload, d.h.raw_length, &d.raw).ok());
          } else {
            d.raw.assign(payload);
          }
          REQUIRE(d.raw.size() == d.h.raw_length);
          data.push_back(std::move(d));
          break;
        }
        default:
          garbage_from_sender = true;
      }
    }
    if (r == wire::FrameReader::Result::kError) garbage_from_sender = true;
  }
  void Send(const std::string& bytes) { t->Write(bytes); }
  void SendHello(const wire::Hello& h) {
    std::string b;
    wire::EncodeHello(&b, h);
    Send(b);
  }
  void SendAck(Position p, uint64_t tid) {
    std::string b;
    wire::EncodeAck(&b, wire::Ack{p, tid});
    Send(b);
  }
  void SendKeepalive() {
    std::string b;
    wire::EncodeKeepalive(&b, wire::Keepalive{});
    Send(b);
  }
  // Where the last Data frame ends, and the TID of its last record.
  Position LastEnd() const {
    if (data.empty()) return {};
    return Position{data.back().h.file_id, data.back().h.offset + data.back().h.raw_length};
  }
  uint64_t LastTid() const;
  uint64_t raw_bytes() const {
    uint64_t n = 0;
    for (const Data& d : data) n += d.raw.size();
    return n;
  }
};

// TID of the last record in `raw` (whole records, maybe after a file header).
inline uint64_t LastTidIn(const std::string& raw, uint64_t offset) {
  size_t p = offset == 0 ? tranlog::kFileHeaderSize : 0;
  uint64_t tid = 0;
  while (p < raw.size()) {
    tranlog::RecordHeader h;
    REQUIRE(tranlog::DecodeRecordHeader(reinterpret_cast<const uint8_t*>(raw.data()) + p, &h).ok());
    tid = h.tid;
    p += h.length;
  }
  REQUIRE(p == raw.size());
  return tid;
}

inline uint64_t FakeReceiver::LastTid() const {
  return LastTidIn(data.back().raw, data.back().h.offset);
}

struct SenderFixture {
  TempDir dir;
  Env* env = Env::Default();
  uv_loop_t loop;
  std::unique_ptr<tranlog::Writer> writer;
  std::unique_ptr<LogSender> sender;
  std::vector<std::unique_ptr<FakeReceiver>> receivers;
  std::vector<SenderStatus> statuses;
  int ts = 0;
  std::mt19937 rng{42};

  SenderFixture() { REQUIRE(uv_loop_init(&loop) == 0); }
  ~SenderFixture() {
    if (sender) Shutdown();
    receivers.clear();
    writer.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  tranlog::WriterOptions WriterOpts(uint64_t max_file_bytes = 64ull << 20) {
    return tranlog::WriterOptions{env, {dir.path()}, "tranlog", max_file_bytes};
  }
  std::string Path(uint64_t id) { return dir / tranlog::FileName("tranlog", id); }

  void CreateHistory(Lineage lineage = Lineage{7, 7}) {
    auto w = tranlog::Writer::CreateFile(WriterOpts(), lineage, 1, 1, 0);
    REQUIRE(w.ok());
    writer = std::move(*w);
  }
  // `n` durable commits of `size` payload bytes each, in batches of `per_batch`.
  // With `random` the payloads do not compress.
  void Commit(int n, size_t size = 1000, int per_batch = 1, bool random = false) {
    for (int i = 0; i < n; i++) {
      std::string payload(size, static_cast<char>('a' + (ts % 26)));
      if (random) {
        for (char& c : payload) c = static_cast<char>(rng() >> 24);
      }
      payload.replace(0, std::min<size_t>(size, 12), fmt::format("{:012}", ts));
      writer->Add(tranlog::RecordType::kCommit, i % per_batch == 0 ? tranlog::kFlagBatchStart : 0,
                  1000000 + ts++, AsBytes(payload));
      if ((i + 1) % per_batch == 0 || i + 1 == n) {
        REQUIRE(writer->Flush().ok());
        // As the engine does: zeros ahead of the end, which later turn into records.
        writer->Preallocate();
      }
    }
  }
  void Rotate() { REQUIRE(writer->Rotate(1000000 + ts++).ok()); }

  LogSenderOptions Options() {
    LogSenderOptions o;
    o.stone = "prod";
    o.tranlog_dirs = {dir.path()};
    o.disk_poll_ms = 10;
    o.frame_target = 64 << 10;
    o.on_status = [this](const SenderStatus& s) { statuses.push_back(s); };
    return o;
  }
  void StartSender(LogSenderOptions o) {
    sender = std::make_unique<LogSender>(&loop, std::move(o));
    REQUIRE(sender->Start().ok());
  }
  void StartSender() { StartSender(Options()); }

  FakeReceiver* Connect() {
    auto [a, b] = wire::MemoryPipe(&loop);
    auto r = std::make_unique<FakeReceiver>();
    r->t = std::move(b);
    r->Start();
    sender->Accept(std::move(a));
    receivers.push_back(std::move(r));
    return receivers.back().get();
  }
  static wire::Hello FromStart(const std::string& stone = "standby1") {
    wire::Hello h;
    h.receiver_stone = stone;
    h.receiver_host = "host";
    h.mode = wire::StartMode::kFromStart;
    return h;
  }
  FakeReceiver* ConnectFromStart(const std::string& stone = "standby1") {
    FakeReceiver* r = Connect();
    r->SendHello(FromStart(stone));
    return r;
  }

  // Runs the loop until `cond` holds; false at the deadline.
  bool RunUntil(const std::function<bool()>& cond,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  }
  // Runs the loop for a while (to show that something does NOT happen).
  void RunFor(std::chrono::milliseconds d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline) uv_run(&loop, UV_RUN_ONCE);
  }

  void Shutdown() {
    bool stopped = false;
    sender->Stop("test over", [&] { stopped = true; });
    REQUIRE(RunUntil([&] { return stopped; }));
    sender.reset();
  }

  // The primary's bytes of file `id` up to `end` (or its whole size).
  std::string FileBytes(uint64_t id, uint64_t end = UINT64_MAX) {
    std::string all = tranship::test::ReadAll(Path(id));
    return all.substr(0, std::min<uint64_t>(end, all.size()));
  }
};

// The archive a receiver would write: the frames' bytes per file, checked to be
// contiguous (each frame starts where the one before ended, or at offset 0 of the next
// file after a log switch, or of a new lineage's first file) and made of whole records.
inline std::map<uint64_t, std::string> Reassemble(const FakeReceiver& r) {
  std::map<uint64_t, std::string> files;
  for (const FakeReceiver::Data& d : r.data) {
    std::string& f = files[d.h.file_id];
    REQUIRE_MESSAGE(d.h.offset == f.size(), "frame at tranlog " << d.h.file_id << " offset "
                                                                << d.h.offset << " does not follow "
                                                                << f.size());
    if (d.h.offset == 0 && !files.empty() && files.begin()->first != d.h.file_id &&
        !files.count(d.h.file_id - 1)) {
      // Only the first file of a new lineage may skip ids (a junction): its header's
      // lineage differs from the file before it.
      tranlog::FileHeader now, before;
      const std::string& prev = std::prev(files.find(d.h.file_id))->second;
      REQUIRE(tranlog::DecodeFileHeader(AsBytes(d.raw).subspan(0, tranlog::kFileHeaderSize), &now).ok());
      REQUIRE(tranlog::DecodeFileHeader(AsBytes(prev).subspan(0, tranlog::kFileHeaderSize), &before).ok());
      REQUIRE(now.lineage != before.lineage);
    }
    (void)LastTidIn(d.raw, d.h.offset);  // whole records only
    f += d.raw;
  }
  return files;
}

}  // namespace tranship::logsender::test
