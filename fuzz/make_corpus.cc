// Writes the seed corpora of the fuzz targets: valid examples made by the real encoders
// and the real tranlog writer (sample_history.h), plus a few edge cases. Regenerating
// changes only the creation times in tranlog headers, unless an encoder changed:
//
//   ninja -C build fuzz/fuzz_make_corpus && build/fuzz/fuzz_make_corpus fuzz/corpus
//
// Each file is one input: the target's control byte (see each fuzz_*.cc) and the bytes.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/coding.h"
#include "client/protocol.h"
#include "tranlog/reader.h"
#include "fuzz/sample_history.h"
#include "wire/batch.h"
#include "wire/protocol.h"

namespace tranship::fuzz {
namespace {

namespace cp = client_protocol;

std::filesystem::path out_root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  std::filesystem::path dir = out_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
}

std::string Control(uint8_t c) { return std::string(1, static_cast<char>(c)); }

// Every record boundary of file `id`: (position, TID of the record before, its chain).
struct Bound {
  Position pos;
  uint64_t tid;
  uint64_t chain;
};
std::vector<Bound> Bounds(SampleHistory& h, uint64_t id) {
  auto r = tranlog::FileReader::Open(&h.env, h.Path(id));
  if (!r.ok()) std::abort();
  std::vector<Bound> out;
  tranlog::RecordRef rec;
  while ((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
    out.push_back(Bound{{id, (*r)->offset()}, rec.header.tid, rec.header.chain});
  }
  return out;
}

// The valid records of file `id` with its header (no preallocated zeros).
std::string FileContent(SampleHistory& h, uint64_t id) {
  std::string all = h.env.Get(h.Path(id));
  std::vector<Bound> b = Bounds(h, id);
  return all.substr(0, b.back().pos.offset);
}

std::string DataFrame(uint64_t id, uint64_t offset, const std::string& raw, bool zstd) {
  wire::DataHeader dh{id, offset, static_cast<uint32_t>(raw.size()), 0};
  std::string payload = raw;
  if (zstd) {
    wire::Compressor c;
    if (!c.Compress(raw, &payload).ok()) std::abort();
    dh.flags = wire::kDataZstd;
  }
  std::string f;
  wire::EncodeData(&f, dh, payload);
  return f;
}

void FrameSeeds(SampleHistory& h) {
  wire::Welcome w;
  w.sender_stone = "prod";
  w.start = Position{1, 0};
  w.primary_end = h.end;
  w.keepalive_ms = 1000;
  w.timeout_ms = 10000;
  wire::Keepalive k{1700000000000000, h.end};
  std::string f1 = FileContent(h, 1), f2 = FileContent(h, 2);

  std::string s;  // the sender's stream to an empty archive: two whole files
  wire::EncodeWelcome(&s, w);
  s += DataFrame(1, 0, f1, true);
  wire::EncodeKeepalive(&s, k);
  s += DataFrame(2, 0, f2, true);
  Write("frame", "sender_stream_zstd", Control(0xfe) + s);

  s.clear();  // plain payloads, the first file in two frames cut at a record boundary
  wire::EncodeWelcome(&s, w);
  uint64_t cut = Bounds(h, 1)[3].pos.offset;
  s += DataFrame(1, 0, f1.substr(0, cut), false);
  s += DataFrame(1, cut, f1.substr(cut), false);
  Write("frame", "sender_stream_plain", Control(0xfe) + s);
  Write("frame", "sender_stream_bytewise", Control(0x00) + s.substr(0, 600));

  s.clear();
  wire::EncodeRefuse(&s, wire::Refuse{wire::RefuseCode::kForkInTime, "fork in time: reseed"});
  Write("frame", "refuse", Control(0xfe) + s);

  s.clear();  // the receiver's stream: Hello, Acks, Keepalive
  wire::Hello hello;
  hello.receiver_stone = "standby1";
  hello.receiver_host = "standby-host";
  wire::EncodeHello(&s, hello);
  wire::EncodeAck(&s, wire::Ack{Position{1, cut}, Bounds(h, 1)[3].tid});
  wire::EncodeKeepalive(&s, wire::Keepalive{});
  Write("frame", "receiver_stream", Control(0xff) + s);
  Write("frame", "receiver_stream_pieces", Control(0x07) + s);  // 4-byte pieces

  // Edge cases: a zero length, a length over the limit, an unknown type.
  Write("frame", "zero_length", Control(0xfe) + std::string("\0\0\0\0\x04", 5));
  Write("frame", "oversize", Control(0xff) + std::string("\xff\xff\xff\x7f\x05", 5));
  Write("frame", "unknown_type", Control(0xfe) + std::string("\x01\0\0\0\x09", 5));
}

std::string HelloBody(const wire::Hello& m) {
  std::string f;
  wire::EncodeHello(&f, m);
  return f.substr(wire::kFrameHeaderSize);
}

void HandshakeSeeds(SampleHistory& h) {
  wire::Hello base;
  base.receiver_stone = "standby1";
  base.receiver_host = "standby-host";
  Write("handshake", "from_start", Control(0) + HelloBody(base));

  std::vector<Bound> b1 = Bounds(h, 1), b2 = Bounds(h, 2), b3 = Bounds(h, 3);
  auto resume = [&](const std::string& name, Lineage l, const Bound& b) {
    wire::Hello m = base;
    m.mode = wire::StartMode::kResume;
    m.lineage = l;
    m.resume = b.pos;
    m.resume_tid = b.tid;
    m.resume_chain = b.chain;
    Write("handshake", name, Control(0) + HelloBody(m));
  };
  resume("resume_mid_file1", h.parent, b1[4]);
  resume("resume_after_log_switch", h.parent, Bound{{2, 0}, b1.back().tid, b1.back().chain});
  resume("resume_at_junction", h.parent,
         Bound{h.junction.pos, h.junction.tid, h.junction.chain});
  resume("resume_abandoned_branch", h.parent, b2.back());
  resume("resume_in_child", h.child, b3[2]);
  resume("resume_at_end", h.child, b3.back());
  resume("resume_beyond_end", h.child, Bound{{4, 0}, h.end.tid, h.end.chain});

  auto after = [&](const std::string& name, Lineage l, uint64_t tid, uint64_t chain) {
    wire::Hello m = base;
    m.mode = wire::StartMode::kAfterTid;
    m.lineage = l;
    m.resume_tid = tid;
    m.resume_chain = chain;
    Write("handshake", name, Control(0) + HelloBody(m));
  };
  after("after_tid_file1", h.parent, b1[2].tid, b1[2].chain);
  after("after_tid_junction", h.parent, h.junction.tid, h.junction.chain);
  after("after_tid_child", h.child, b3[3].tid, b3[3].chain);

  wire::Hello old = base;
  old.version = 0;
  Write("handshake", "other_version", Control(0) + HelloBody(old));
  wire::Hello nameless = base;
  nameless.receiver_stone.clear();
  Write("handshake", "no_stone", Control(0) + HelloBody(nameless));

  std::string s;
  wire::Welcome w;
  w.sender_stone = "prod";
  w.start = h.junction.pos;
  w.primary_end = h.end;
  w.keepalive_ms = 1000;
  w.timeout_ms = 10000;
  wire::EncodeWelcome(&s, w);
  Write("handshake", "welcome", Control(1) + s);
  s.clear();
  wire::EncodeRefuse(&s, wire::Refuse{wire::RefuseCode::kTranlogGone, "tranlog 1 is gone"});
  Write("handshake", "refuse", Control(1) + s);
}

// The receiver's control byte: the archive it starts with (fuzz_receiver.cc: 0 empty,
// 1 tranlog1 up to its 4th record, 2 tranlog1 whole, 3 and tranlog2 up to the junction)
// and the size of the pieces its input is written in (0: at once).
std::string ReceiverControl(int archive, int piece = 0) {
  return Control(static_cast<uint8_t>(archive | ((piece == 0 ? 63 : piece - 1) << 2)));
}

void ReceiverSeeds(SampleHistory& h) {
  auto welcome = [&](Position start, uint32_t keepalive_ms = 1000, uint32_t timeout_ms = 10000) {
    wire::Welcome w;
    w.sender_stone = "prod";
    w.start = start;
    w.primary_end = h.end;
    w.keepalive_ms = keepalive_ms;
    w.timeout_ms = timeout_ms;
    std::string s;
    wire::EncodeWelcome(&s, w);
    return s;
  };
  auto keepalive = [&] {
    std::string s;
    wire::EncodeKeepalive(&s, wire::Keepalive{1700000000000000, h.end});
    return s;
  };
  std::string f1 = FileContent(h, 1), f2 = FileContent(h, 2), f3 = FileContent(h, 3);
  std::vector<Bound> b1 = Bounds(h, 1), b2 = Bounds(h, 2);
  const uint64_t mid = b1[3].pos.offset;  // where archive 1 ends: after the 4th record
  const uint64_t cut2 = b2[2].pos.offset;

  // An empty archive: two whole files, the second in two frames.
  std::string stream = welcome(Position{1, 0}) + DataFrame(1, 0, f1, true) + keepalive() +
                       DataFrame(2, 0, f2.substr(0, cut2), false) +
                       DataFrame(2, cut2, f2.substr(cut2), true);
  Write("receiver", "from_start", ReceiverControl(0) + stream);
  Write("receiver", "from_start_pieces", ReceiverControl(0, 63) + stream);

  // Resuming where the archive ends: in the middle of tranlog1, after its log switch,
  // and at the junction of lineage B (a later file's offset 0).
  Write("receiver", "resume_mid_file",
        ReceiverControl(1) + welcome(Position{1, mid}) +
            DataFrame(1, mid, f1.substr(mid), true) + DataFrame(2, 0, f2, true));
  Write("receiver", "resume_bytewise",
        ReceiverControl(1, 1) + welcome(Position{1, mid}) +
            DataFrame(1, mid, f1.substr(mid, b1[5].pos.offset - mid), false));
  Write("receiver", "resume_after_log_switch",
        ReceiverControl(2) + keepalive() + welcome(Position{2, 0}) + DataFrame(2, 0, f2, true));
  Write("receiver", "junction",
        ReceiverControl(3) + welcome(Position{3, 0}) + DataFrame(3, 0, f3, true));

  // A Welcome that does not start at the archive's end: refused, nothing written.
  Write("receiver", "welcome_mismatch_behind",
        ReceiverControl(1) + welcome(Position{1, 0}) + DataFrame(1, 0, f1, true));
  Write("receiver", "welcome_mismatch_ahead",
        ReceiverControl(1) + welcome(b1[5].pos) +
            DataFrame(1, b1[5].pos.offset, f1.substr(b1[5].pos.offset), false));

  // A second Welcome on one connection, Data before the Welcome.
  Write("receiver", "second_welcome",
        ReceiverControl(0) + welcome(Position{1, 0}) + DataFrame(1, 0, f1, true) +
            welcome(Position{2, 0}) + DataFrame(2, 0, f2, true));
  Write("receiver", "data_before_welcome",
        ReceiverControl(0) + DataFrame(1, 0, f1, true) + welcome(Position{1, 0}));

  // Keepalive and timeout at their extremes (0 is "not said").
  Write("receiver", "welcome_zero_keepalive_huge_timeout",
        ReceiverControl(2) + welcome(Position{2, 0}, 0, 0xffffffff) + keepalive() +
            DataFrame(2, 0, f2, true) + keepalive());
  Write("receiver", "welcome_tiny_keepalive_zero_timeout",
        ReceiverControl(2) + welcome(Position{2, 0}, 1, 0) + DataFrame(2, 0, f2, false));

  // A Refuse exactly one piece long, then a sender that welcomes the next connection.
  std::string refuse;
  std::string why = "fork in time: reseed";
  for (;;) {
    refuse.clear();
    wire::EncodeRefuse(&refuse, wire::Refuse{wire::RefuseCode::kForkInTime, why});
    if (refuse.size() >= 63) break;
    why += '.';
  }
  if (refuse.size() != 63) std::abort();
  Write("receiver", "refuse_then_welcome",
        ReceiverControl(2, 63) + refuse + welcome(Position{2, 0}) + DataFrame(2, 0, f2, true));
  refuse.clear();
  wire::EncodeRefuse(&refuse, wire::Refuse{wire::RefuseCode::kShuttingDown, "shutting down"});
  Write("receiver", "refuse_shutting_down", ReceiverControl(0) + refuse);

  // Garbage: a length over the handshake limit, an unknown type, a truncated Welcome.
  Write("receiver", "oversize", ReceiverControl(0) + std::string("\xff\xff\0\0\x04", 5));
  Write("receiver", "unknown_type", ReceiverControl(1) + std::string("\x01\0\0\0\x09", 5));
  std::string w = welcome(Position{1, 0});
  Write("receiver", "truncated_welcome", ReceiverControl(0) + w.substr(0, w.size() - 3));
}

void TranlogSeeds(SampleHistory& h) {
  for (uint64_t id = 1; id <= SampleHistory::kFiles; id++) {
    Write("tranlog", "tranlog" + std::to_string(id), FileContent(h, id));
  }
  // The file being written, with (a little of) its preallocated space.
  Write("tranlog", "zero_tail", FileContent(h, 3) + std::string(200, '\0'));
  std::string f1 = FileContent(h, 1);
  std::vector<Bound> b1 = Bounds(h, 1);
  Write("tranlog", "torn_tail", f1.substr(0, b1[5].pos.offset + 30));
  std::string flipped = f1;
  flipped[b1[2].pos.offset + 40] ^= 0x20;  // inside a payload, valid records after it
  Write("tranlog", "payload_flipped", flipped);
  Write("tranlog", "header_only", f1.substr(0, 72));
  Write("tranlog", "empty", "");
}

void ClientProtocolSeeds() {
  std::string s;
  cp::EncodeHello(&s, 1, "tranship-cli");
  cp::EncodeGet(&s, 2, "key1");
  TxnRequest t;
  t.reads.push_back(ReadCheck{"key1", 7});
  t.writes.push_back(WriteOp{WriteOp::Kind::kPut, "key1", "value1"});
  t.writes.push_back(WriteOp{WriteOp::Kind::kDelete, "key2", ""});
  cp::EncodeCommit(&s, 3, t);
  cp::EncodeInfo(&s, 4);
  cp::EncodeAdmin(&s, 5, "continuous-restore", {"/archive/a", "/archive/b"});
  cp::EncodeSubscribe(&s, 6);
  cp::EncodeArchiveNotify(&s, 7, DurableEnd{{1, 2}, {3, 4096}, 99, 0xabcdef, 1700000000000000});
  Write("client_protocol", "requests", Control(0x00) + s);
  Write("client_protocol", "requests_direct_pieces", Control(0x06) + s);

  s.clear();
  cp::EncodeHelloReply(&s, 1, cp::HelloReply{cp::kProtocolVersion, "0.1.0", "prod"});
  cp::EncodeGetReply(&s, 2, ReadResult{true, "value1", 7});
  cp::EncodeCommitReply(&s, 3, 100);
  StoneInfo info;
  info.name = "prod";
  info.version = "0.1.0";
  info.state = "running";
  info.stats.last_error = "none";
  cp::EncodeInfoReply(&s, 4, info);
  cp::EncodeAdminReply(&s, 5, "continuous restore started");
  cp::EncodeSubscribeReply(&s, 6);
  cp::EncodeArchiveNotifyReply(&s, 7);
  cp::EncodeDurableEnd(&s, 6, DurableEnd{{1, 2}, {3, 4096}, 99, 0xabcdef, 1700000000000000});
  cp::EncodeErrorReply(&s, cp::MsgType::kCommit, 8, Status::Conflict("key1 changed"));
  Write("client_protocol", "replies", Control(0x01) + s);

  // A commit whose write count is as large as the bytes left allow, then zeros.
  std::string forged;
  PutVarint64(&forged, 0);
  PutVarint64(&forged, 1000);
  forged.resize(2010, '\0');
  s.clear();
  s += std::string("\0\0\0\0\x03\x09\0\0\0", 9) + forged;
  EncodeFixed32(reinterpret_cast<uint8_t*>(s.data()), static_cast<uint32_t>(forged.size()));
  Write("client_protocol", "forged_count", Control(0x00) + s);

  Write("client_protocol", "oversize", Control(0x00) + std::string("\xff\xff\xff\xff\x03", 5));
  Write("client_protocol", "unknown_type", Control(0x00) + std::string("\0\0\0\0\x7f\0\0\0\0", 9));
}

void ConfigSeeds() {
  Write("config", "default", "# tranship stone configuration\n"
                             "STN_TRAN_LOG_DIRECTORIES = tranlog;\n"
                             "STN_TRAN_LOG_SIZES = 100;\n"
                             "STN_TRAN_LOG_PREFIX = tranlog;\n"
                             "STN_CHECKPOINT_INTERVAL = 300;\n");
  Write("config", "gemstone_style", "# two directories, used in turn\r\n"
                                    "STN_TRAN_LOG_DIRECTORIES = /data/prod/tranlog, /data2/t;\r\n"
                                    "\tSTN_TRAN_LOG_SIZES = 64, 64;   # MB\r\n"
                                    "STN_CHECKPOINT_INTERVAL = 0;\n");
  Write("config", "repeated_key", "STN_TRAN_LOG_PREFIX = a;\nSTN_TRAN_LOG_PREFIX = b;\n");
  Write("config", "missing_semicolon", "STN_TRAN_LOG_SIZES = 100\n");
  Write("config", "empty", "");
}

}  // namespace
}  // namespace tranship::fuzz

int main(int argc, char** argv) {
  using namespace tranship::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (e.g. fuzz/corpus)\n", argv[0]);
    return 2;
  }
  out_root = argv[1];
  SampleHistory h;
  WriteSampleHistory(&h);
  FrameSeeds(h);
  HandshakeSeeds(h);
  ReceiverSeeds(h);
  TranlogSeeds(h);
  ClientProtocolSeeds();
  ConfigSeeds();
  std::printf("seed corpora written under %s\n", argv[1]);
  return 0;
}
