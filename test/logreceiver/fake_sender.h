#pragma once
// A hand-driven logsender for the logreceiver's unit tests. The receiver gets a
// FakeTransport from its Connector; the test holds the matching Link and plays the
// sender: it reads the receiver's frames (Hello, Ack, Keepalive) and sends Welcome,
// Refuse, Keepalive and Data frames built with the wire encoders from a real tranlog
// (written by tranlog::Writer), or forged ones. Close and peer-close callbacks are
// delivered by Pump(), never from inside the receiver's own call, as a real transport
// does.

#include <doctest/doctest.h>
#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "tranlog/reader.h"
#include "tranlog/writer.h"
#include "test/test_util.h"
#include "wire/batch.h"
#include "wire/protocol.h"
#include "wire/transport.h"

namespace tranship::test {

// The sender's view of one connection.
struct Link {
  wire::Transport::Callbacks cb;
  bool started = false;
  bool closed_by_receiver = false;   // the receiver called Close()
  Status close_reason;
  bool close_delivered = false;
  std::string from_receiver;         // raw bytes the receiver wrote

  // Frames the receiver sent, decoded in order.
  std::vector<std::pair<wire::MsgType, std::string>> Frames() const {
    wire::FrameReader r(wire::kMaxReceiverFrame);
    r.Feed(from_receiver);
    std::vector<std::pair<wire::MsgType, std::string>> out;
    wire::Frame f;
    while (r.Next(&f) == wire::FrameReader::Result::kFrame) {
      out.emplace_back(f.type, std::string(f.body));
    }
    return out;
  }
  wire::Hello GetHello() const {
    auto frames = Frames();
    REQUIRE(!frames.empty());
    REQUIRE(frames[0].first == wire::MsgType::kHello);
    wire::Hello h;
    REQUIRE(wire::DecodeHello(frames[0].second, &h).ok());
    return h;
  }
  std::vector<wire::Ack> Acks() const {
    std::vector<wire::Ack> acks;
    for (auto& [t, body] : Frames()) {
      if (t != wire::MsgType::kAck) continue;
      wire::Ack a;
      REQUIRE(wire::DecodeAck(body, &a).ok());
      acks.push_back(a);
    }
    return acks;
  }
  bool open() const { return started && !closed_by_receiver && !close_delivered; }
  void Deliver(const std::string& bytes) {
    REQUIRE(open());
    cb.on_data(bytes);
  }
};

class FakeTransport final : public wire::Transport {
 public:
  explicit FakeTransport(std::shared_ptr<Link> link) : link_(std::move(link)) {}
  void Start(Callbacks cb) override {
    link_->cb = std::move(cb);
    link_->started = true;
  }
  bool Write(wire::SharedBuffer data) override {
    if (!link_->closed_by_receiver) link_->from_receiver += *data;
    return true;
  }
  size_t QueuedBytes() const override { return 0; }
  void PauseReading() override {}
  void ResumeReading() override {}
  void Close(const Status& reason) override {
    if (link_->closed_by_receiver) return;
    link_->closed_by_receiver = true;
    link_->close_reason = reason;
  }
  std::string PeerName() const override { return "127.0.0.1:7000"; }
  bool IsTls() const override { return false; }

 private:
  std::shared_ptr<Link> link_;
};

// Hands out one FakeTransport per connection attempt and keeps the links.
class FakeConnector {
 public:
  // While set, connection attempts fail like a refused TCP connect.
  bool refuse_connections = false;
  std::vector<std::shared_ptr<Link>> links;
  int attempts = 0;

  logreceiver::Connector Make() {
    return [this](std::function<void(Result<std::unique_ptr<wire::Transport>>)> done) {
      attempts++;
      if (refuse_connections) {
        done(Status::IOError("connection refused"));
        return;
      }
      auto link = std::make_shared<Link>();
      links.push_back(link);
      done(std::unique_ptr<wire::Transport>(new FakeTransport(link)));
    };
  }
  std::shared_ptr<Link> last() { return links.empty() ? nullptr : links.back(); }

  // Delivers the close callbacks the receiver's Close() calls asked for; true if any.
  bool DeliverCloses() {
    bool any = false;
    for (auto& l : links) {
      if (l->closed_by_receiver && !l->close_delivered) {
        l->close_delivered = true;
        any = true;
        auto cb = l->cb.on_closed;
        cb(l->close_reason);
      }
    }
    return any;
  }
  // The sender goes away.
  void PeerClose(const std::shared_ptr<Link>& l) {
    REQUIRE(l->open());
    l->close_delivered = true;
    auto cb = l->cb.on_closed;
    cb(Status::IOError("the peer closed the connection"));
  }
};

// A source tranlog history written by the real writer, and the sender's frames of it.
struct SourceLog {
  TempDir dir;
  tranlog::WriterOptions opts;
  std::unique_ptr<tranlog::Writer> writer;
  Lineage lineage{0x1111, 0x2222};

  SourceLog() {
    opts.env = Env::Default();
    opts.dirs = {dir.path()};
    auto w = tranlog::Writer::CreateFile(opts, lineage, 1, 1, 0);
    REQUIRE(w.ok());
    writer = std::move(*w);
  }
  // `n` commit records, `per_batch` per fdatasync.
  void Commit(int n, int per_batch = 3) {
    for (int i = 0; i < n; i++) {
      std::string payload = "commit " + std::to_string(writer->last_tid() + 1) +
                            std::string(static_cast<size_t>(50 + (i * 37) % 400), 'x');
      writer->Add(tranlog::RecordType::kCommit, 0, 1000000 + writer->last_tid(),
                  AsBytes(payload));
      if ((i + 1) % per_batch == 0) REQUIRE(writer->Flush().ok());
    }
    if (writer->HasPending()) REQUIRE(writer->Flush().ok());
  }
  void Rotate() { REQUIRE(writer->Rotate(2000000).ok()); }
  void Close() { REQUIRE(writer->Close().ok()); }
  std::string Path(uint64_t id) const { return tranlog::PathFor(opts, id); }

  // The file's content from `from`, cut into chunks of `records` records each (the
  // header travels with the first). Stops at the last valid record.
  std::vector<std::pair<uint64_t, std::string>> Chunks(uint64_t file_id, int records,
                                                       uint64_t from = 0) const {
    std::string data = ReadAll(Path(file_id));
    auto r = tranlog::FileReader::Open(Env::Default(), Path(file_id));
    REQUIRE(r.ok());
    std::vector<uint64_t> bounds;  // record ends
    tranlog::RecordRef rec;
    while ((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
      bounds.push_back(rec.pos.offset + rec.header.length);
    }
    std::vector<std::pair<uint64_t, std::string>> out;
    uint64_t start = from;
    int n = 0;
    for (uint64_t end : bounds) {
      if (end <= from) continue;
      if (++n == records) {
        out.emplace_back(start, data.substr(start, end - start));
        start = end;
        n = 0;
      }
    }
    if (n > 0) out.emplace_back(start, data.substr(start, bounds.back() - start));
    return out;
  }
};

inline std::string DataFrame(uint64_t file_id, uint64_t offset, const std::string& raw,
                             bool compress = true) {
  wire::DataHeader h;
  h.file_id = file_id;
  h.offset = offset;
  h.raw_length = static_cast<uint32_t>(raw.size());
  std::string payload = raw;
  if (compress) {
    wire::Compressor c;
    REQUIRE(c.Compress(raw, &payload).ok());
    h.flags = wire::kDataZstd;
  }
  std::string frame;
  wire::EncodeData(&frame, h, payload);
  return frame;
}

inline std::string WelcomeFrame(Position start, DurableEnd primary_end = {}) {
  wire::Welcome w;
  w.sender_stone = "prod";
  w.start = start;
  w.primary_end = primary_end;
  w.keepalive_ms = 1000;
  w.timeout_ms = 10000;
  std::string frame;
  wire::EncodeWelcome(&frame, w);
  return frame;
}

inline std::string RefuseFrame(wire::RefuseCode code, const std::string& msg) {
  std::string frame;
  wire::EncodeRefuse(&frame, wire::Refuse{code, msg});
  return frame;
}

}  // namespace tranship::test
