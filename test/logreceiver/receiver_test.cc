// LogReceiver scenarios against a hand-driven fake sender (fake_sender.h): a real
// tranlog from tranlog::Writer is shipped in Data frames and the archive compared byte
// for byte; forged frames check that nothing of a bad frame is written; a
// FaultInjectionEnv fills the disk.

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/coding.h"
#include "base/fault_env.h"
#include "base/log.h"
#include "tranlog/format.h"
#include "logreceiver/receiver.h"
#include "test/logreceiver/fake_sender.h"

namespace tranship {
namespace {

using logreceiver::LogReceiver;
using test::DataFrame;
using test::FakeConnector;
using test::Link;
using test::SourceLog;
using test::TempDir;
using test::WelcomeFrame;

class Fixture {
 public:
  explicit Fixture(Env* env = Env::Default()) : env_(env) { uv_loop_init(&loop_); }
  ~Fixture() {
    StopReceiver();
    CHECK(uv_loop_close(&loop_) == 0);  // every handle closed
  }

  logreceiver::ReceiverOptions Options() {
    logreceiver::ReceiverOptions o;
    o.stone = "standby1";
    o.host = "testhost";
    o.master = "127.0.0.1:7000";
    o.env = env_;
    o.archive_dir = archive_.path();
    o.min_backoff_ms = 1;
    o.max_backoff_ms = 4;
    o.refused_retry_ms = 150;
    o.disk_full_retry_ms = 20;
    o.timeout_ms = 10000;
    return o;
  }

  void StartReceiver() { StartReceiver(Options()); }
  void StartReceiver(logreceiver::ReceiverOptions o) {
    REQUIRE(receiver_ == nullptr);
    receiver_ = std::make_unique<LogReceiver>(&loop_, std::move(o), connector_.Make());
    Status s = receiver_->Start();
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  void StopReceiver() {
    if (!receiver_) return;
    receiver_->Stop("test ends");
    for (int i = 0; i < 1000 && connector_.DeliverCloses(); i++) {}
    Pump();
    uv_run(&loop_, UV_RUN_DEFAULT);
    receiver_.reset();
  }

  // One loop iteration without waiting (the receiver's fdatasync + Ack step runs), then
  // the close callbacks it asked for.
  void Pump() {
    for (int i = 0; i < 3; i++) {
      uv_run(&loop_, UV_RUN_NOWAIT);
      // The receiver's fdatasync runs on the thread pool: wait for it as for the disk.
      while (receiver_ && receiver_->syncing()) uv_run(&loop_, UV_RUN_ONCE);
      connector_.DeliverCloses();
    }
  }
  // One loop iteration, without waiting for anything.
  void RunOnce() { uv_run(&loop_, UV_RUN_NOWAIT); }
  // Runs the loop until `cond` holds (timers fire) or 10 s pass.
  bool RunUntil(const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
      connector_.DeliverCloses();
    }
    return true;
  }

  // The connection the receiver opened last, after it said Hello.
  std::shared_ptr<Link> Connected() {
    REQUIRE(RunUntil([&] { return connector_.last() && connector_.last()->open(); }));
    auto l = connector_.last();
    l->cb.on_ready();
    return l;
  }
  // Connects and welcomes, as a sender that agrees with the Hello's position.
  std::shared_ptr<Link> Streaming(DurableEnd primary_end = {}) {
    auto l = Connected();
    wire::Hello h = l->GetHello();
    Position start = h.mode == wire::StartMode::kResume ? h.resume : Position{1, 0};
    l->Deliver(WelcomeFrame(start, primary_end));
    CHECK(receiver_->state() == LogReceiver::State::kStreaming);
    return l;
  }
  // Ships every chunk of `file_id` from `from`, `records` per frame, and pumps.
  void Ship(Link& l, const SourceLog& src, uint64_t file_id, int records, uint64_t from = 0) {
    for (auto& [off, raw] : src.Chunks(file_id, records, from)) {
      l.Deliver(DataFrame(file_id, off, raw));
    }
    Pump();
  }

  std::string ArchivePath(uint64_t id) const {
    return archive_ / tranlog::FileName("tranlog", id);
  }
  LogReceiver& receiver() { return *receiver_; }
  FakeConnector& connector() { return connector_; }
  const TempDir& archive() const { return archive_; }

 private:
  Env* env_;
  TempDir archive_;
  uv_loop_t loop_;
  FakeConnector connector_;
  std::unique_ptr<LogReceiver> receiver_;
};

uint64_t Size(const std::string& path) { return test::FileSize(path); }

// The first tranlog of a closed source log of `commits` two-key commits, as frames of
// 3 records each.
std::vector<std::pair<uint64_t, std::string>> FramesOfOneFile(int commits) {
  SourceLog src;
  src.Commit(commits, 2);
  src.Close();
  return src.Chunks(1, 3);
}

TEST_CASE("StreamOfFramesProducesAByteIdenticalArchive") {
  SourceLog src;
  src.Commit(40);
  src.Rotate();
  src.Commit(25);
  src.Rotate();
  src.Commit(7);
  src.Close();

  Fixture fx;
  fx.StartReceiver();
  auto l = fx.Streaming();
  wire::Hello h = l->GetHello();
  CHECK(h.mode == wire::StartMode::kFromStart);
  CHECK(h.receiver_stone == "standby1");
  fx.Ship(*l, src, 1, 4);
  fx.Ship(*l, src, 2, 1);
  fx.Ship(*l, src, 3, 100);
  for (uint64_t id = 1; id <= 3; id++) {
    CHECK_MESSAGE(test::ReadAll(fx.ArchivePath(id)) == test::ReadAll(src.Path(id)), "file ", id);
  }
  auto acks = l->Acks();
  REQUIRE(!acks.empty());
  CHECK(acks.back().durable == src.writer->end());
  CHECK(acks.back().tid == src.writer->last_tid());
  CHECK(l->open());
}

TEST_CASE("ResumesFromTheDurableEndAfterARestart") {
  SourceLog src;
  src.Commit(30);
  src.Rotate();
  src.Commit(10);
  src.Close();
  auto chunks = src.Chunks(1, 5);
  REQUIRE(chunks.size() > 3);

  Fixture fx;
  fx.StartReceiver();
  {
    auto l = fx.Streaming();
    for (size_t i = 0; i < 3; i++) l->Deliver(DataFrame(1, chunks[i].first, chunks[i].second));
    fx.Pump();
  }
  uint64_t end = chunks[3].first;
  fx.StopReceiver();
  CHECK(Size(fx.ArchivePath(1)) == end);

  SUBCASE("in the middle of a file") {
    fx.StartReceiver();
    auto l = fx.Connected();
    wire::Hello h = l->GetHello();
    CHECK(h.mode == wire::StartMode::kResume);
    CHECK(h.resume == Position{1, end});
    CHECK(h.lineage == src.lineage);
    CHECK(h.resume_tid == 15);
    // The chain of record 15, as the source file has it.
    auto r = tranlog::FileReader::Open(Env::Default(), src.Path(1));
    REQUIRE(r.ok());
    tranlog::RecordRef rec;
    uint64_t chain = 0;
    while ((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord && rec.header.tid <= 15) {
      chain = rec.header.chain;
    }
    CHECK(h.resume_chain == chain);
  }
  SUBCASE("after a log switch") {
    fx.StartReceiver();
    auto l = fx.Streaming();
    fx.Ship(*l, src, 1, 5, end);
    fx.StopReceiver();
    CHECK(test::ReadAll(fx.ArchivePath(1)) == test::ReadAll(src.Path(1)));
    fx.StartReceiver();
    auto l2 = fx.Connected();
    wire::Hello h = l2->GetHello();
    CHECK(h.resume == Position{2, 0});
    CHECK(h.resume_tid == 31);  // the log switch
    l2->Deliver(WelcomeFrame(h.resume));
    fx.Ship(*l2, src, 2, 3);
    CHECK(test::ReadAll(fx.ArchivePath(2)) == test::ReadAll(src.Path(2)));
  }
  SUBCASE("after cutting a torn tail") {
    // The next record's header and a few payload bytes reached the disk before a crash.
    std::string half = chunks[3].second.substr(0, tranlog::kRecordHeaderSize + 5);
    std::string data = test::ReadAll(fx.ArchivePath(1)) + half;
    test::WriteAll(fx.ArchivePath(1), data);
    fx.StartReceiver();
    CHECK(Size(fx.ArchivePath(1)) == end);
    auto l = fx.Connected();
    CHECK(l->GetHello().resume == Position{1, end});
  }
  SUBCASE("a file created without its header is removed") {
    test::WriteAll(fx.ArchivePath(2), std::string(72, '\0'));
    fx.StartReceiver();
    CHECK_FALSE(Env::Default()->FileExists(fx.ArchivePath(2)));
    CHECK(fx.Connected()->GetHello().resume == Position{1, end});
  }
}

TEST_CASE("DamageWithValidRecordsAfterItRefusesToStart") {
  SourceLog src;
  src.Commit(30, 5);
  src.Close();
  Fixture fx;
  test::WriteAll(fx.ArchivePath(1), test::ReadAll(src.Path(1)));
  test::IncrementByte(fx.ArchivePath(1), 200);  // inside the first batch
  LogReceiver r(nullptr, fx.Options(), fx.connector().Make());
  Status s = r.Start();
  CHECK(s.IsCorruption());
  CHECK(s.message().find("tranlog1.dbf") != std::string::npos);
}

// A bad frame: nothing of it is written, the link is dropped, and the next connection
// resumes from the end before it.
void ExpectRejected(Fixture& fx, Link& l, const std::string& frame, uint64_t size_before,
                    const std::string& why) {
  size_t acks_before = l.Acks().size();
  l.Deliver(frame);
  fx.Pump();
  CHECK(l.closed_by_receiver);
  CHECK_MESSAGE(l.close_reason.message().find(why) != std::string::npos,
                l.close_reason.ToString());
  CHECK(Size(fx.ArchivePath(1)) == size_before);
  CHECK(l.Acks().size() == acks_before);
  auto next = fx.Connected();
  CHECK(next->GetHello().resume == Position{1, size_before});
}

TEST_CASE("InvalidFramesWriteNothingAndDropTheLink") {
  SourceLog src;
  src.Commit(20, 2);
  src.Close();
  auto chunks = src.Chunks(1, 4);
  Fixture fx;
  fx.StartReceiver();
  auto l = fx.Streaming();
  l->Deliver(DataFrame(1, 0, chunks[0].second));
  fx.Pump();
  const uint64_t end = chunks[1].first;
  REQUIRE(Size(fx.ArchivePath(1)) == end);
  // Valid records to forge from: the last record of chunk 0 gives the TID and chain.
  auto r = tranlog::FileReader::Open(Env::Default(), src.Path(1));
  REQUIRE(r.ok());
  (*r)->SetLimit(end);
  tranlog::RecordRef rec;
  while ((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {}
  const uint64_t tid = (*r)->next_tid() - 1, chain = (*r)->chain();
  std::string good = chunks[1].second;

  SUBCASE("payload checksum") {
    std::string bad = good;
    bad[tranlog::kRecordHeaderSize + 3] ^= 1;
    ExpectRejected(fx, *l, DataFrame(1, end, bad), end, "payload checksum");
  }
  SUBCASE("a damaged record after valid ones in the same frame") {
    std::string bad = good;
    bad[bad.size() - 1] ^= 1;
    ExpectRejected(fx, *l, DataFrame(1, end, bad), end, "checksum");
  }
  SUBCASE("chain break") {
    std::string bad;
    tranlog::AppendRecord(&bad, tranlog::RecordType::kCommit, 0, tid + 1, 5, chain ^ 1,
                          AsBytes(std::string("x")));
    ExpectRejected(fx, *l, DataFrame(1, end, bad), end, "chain break");
  }
  SUBCASE("TID gap") {
    std::string bad;
    tranlog::AppendRecord(&bad, tranlog::RecordType::kCommit, 0, tid + 2, 5, chain,
                          AsBytes(std::string("x")));
    ExpectRejected(fx, *l, DataFrame(1, end, bad), end, "TID");
  }
  SUBCASE("frame not contiguous") {
    ExpectRejected(fx, *l, DataFrame(1, chunks[2].first, chunks[2].second), end,
                   "does not follow");
  }
  SUBCASE("record cut at the end of the frame") {
    ExpectRejected(fx, *l, DataFrame(1, end, good.substr(0, good.size() - 1)), end, "cut");
  }
  SUBCASE("data after a log switch") {
    std::string bad;
    uint64_t c = tranlog::AppendRecord(
        &bad, tranlog::RecordType::kLogSwitch, 0, tid + 1, 5, chain,
        AsBytes(tranlog::EncodeLogSwitch({2})));
    tranlog::AppendRecord(&bad, tranlog::RecordType::kCommit, 0, tid + 2, 6, c,
                          AsBytes(std::string("x")));
    ExpectRejected(fx, *l, DataFrame(1, end, bad), end, "after the log switch");
  }
  SUBCASE("bad file header of the next file") {
    std::string sw;
    uint64_t c = tranlog::AppendRecord(&sw, tranlog::RecordType::kLogSwitch, 0, tid + 1, 5,
                                       chain, AsBytes(tranlog::EncodeLogSwitch({2})));
    l->Deliver(DataFrame(1, end, sw));
    fx.Pump();
    REQUIRE(l->open());
    tranlog::FileHeader fh;
    fh.lineage = src.lineage;
    fh.file_id = 2;
    fh.first_tid = tid + 2;
    fh.start_chain = c ^ 1;  // does not continue the log switch
    std::string bad = tranlog::EncodeFileHeader(fh);
    tranlog::AppendRecord(&bad, tranlog::RecordType::kCommit, 0, tid + 2, 6, fh.start_chain,
                          AsBytes(std::string("x")));
    l->Deliver(DataFrame(2, 0, bad));
    fx.Pump();
    CHECK(l->closed_by_receiver);
    CHECK(l->close_reason.message().find("file header") != std::string::npos);
    CHECK_FALSE(Env::Default()->FileExists(fx.ArchivePath(2)));
    auto next = fx.Connected();
    CHECK(next->GetHello().resume == Position{2, 0});
    CHECK(next->GetHello().resume_tid == tid + 1);
  }
  SUBCASE("uncompressed length mismatch") {
    wire::DataHeader dh{1, end, static_cast<uint32_t>(good.size() + 1), 0};
    std::string frame;
    wire::EncodeData(&frame, dh, good);
    ExpectRejected(fx, *l, frame, end, "Data frame");
  }
  SUBCASE("garbage") {
    ExpectRejected(fx, *l, std::string("\xff\xff\xff\x7f\x04garbage", 12), end, "garbage");
  }
}

TEST_CASE("BeforeTheWelcomeOnlySmallFramesAreAccepted") {
  SourceLog src;
  src.Commit(200, 200);  // one frame of records larger than a Welcome may be
  src.Close();
  auto chunks = src.Chunks(1, 200);
  Fixture fx;
  fx.StartReceiver();
  // A frame header announcing a 64 MiB Data frame, before any Welcome: dropped at once,
  // nothing buffered for it.
  auto l = fx.Connected();
  std::string header;
  PutFixed32(&header, 64u << 20);
  header.push_back(static_cast<char>(wire::MsgType::kData));
  l->Deliver(header);
  fx.Pump();
  CHECK(l->closed_by_receiver);
  CHECK(l->close_reason.message().find("frame length 67108864 out of range (1..3072)") !=
        std::string::npos);
  // After a Welcome the same receiver takes frames of any size up to the Data limit.
  auto l2 = fx.Streaming();
  std::string big = DataFrame(1, 0, chunks[0].second);
  REQUIRE(big.size() > wire::kMaxSenderHandshakeFrame);
  l2->Deliver(big);
  fx.Pump();
  CHECK(l2->open());
  CHECK(Size(fx.ArchivePath(1)) == chunks[0].second.size());
}

TEST_CASE("AcksFollowTheSyncAndNeverExceedWhatWasWritten") {
  SourceLog src;
  src.Commit(30, 2);
  src.Close();
  FaultInjectionEnv fenv(Env::Default());
  Fixture fx(&fenv);
  fx.StartReceiver();
  auto l = fx.Streaming();
  auto chunks = src.Chunks(1, 3);
  for (size_t i = 0; i < 4; i++) l->Deliver(DataFrame(1, chunks[i].first, chunks[i].second));
  // Written but not yet synced: no Ack yet.
  CHECK(l->Acks().empty());
  fx.Pump();
  auto acks = l->Acks();
  REQUIRE(acks.size() == 1);  // the frames that arrived together share one fdatasync
  CHECK(acks[0].durable == Position{1, chunks[4].first});
  // A power cut now keeps everything acknowledged.
  REQUIRE(fenv.DropUnsyncedData().ok());
  CHECK(Size(fx.ArchivePath(1)) == acks[0].durable.offset);
}

// A disk whose appends (or fdatasyncs) wait at a gate until the test opens it (at most
// 10 s, so that a receiver writing on its loop thread fails the test instead of hanging
// it), and that notes which threads reached the gate while it was shut.
class GatedEnv final : public EnvWrapper {
 public:
  enum class Gate { kAppend, kSync };
  GatedEnv(std::thread::id loop_thread, Gate gate)
      : EnvWrapper(Env::Default()), loop_thread_(loop_thread), gate_(gate) {}

  // Waits until an operation is waiting at the gate (10 s at most).
  bool WaitForGate() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return waiting_ > 0; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int on_loop_while_shut() {
    std::lock_guard<std::mutex> l(mu_);
    return on_loop_while_shut_;
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override {
    auto f = target()->NewWritableFile(path, truncate);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new File(this, std::move(*f)));
  }

 private:
  class File final : public WritableFile {
   public:
    File(GatedEnv* env, std::unique_ptr<WritableFile> base)
        : env_(env), base_(std::move(base)) {}
    Status Append(Bytes data) override {
      env_->Wait(Gate::kAppend);
      return base_->Append(data);
    }
    Status Sync() override {
      env_->Wait(Gate::kSync);
      return base_->Sync();
    }
    Status Truncate(uint64_t size) override { return base_->Truncate(size); }
    Status Preallocate(uint64_t bytes) override { return base_->Preallocate(bytes); }
    Status Close() override { return base_->Close(); }
    uint64_t Size() const override { return base_->Size(); }
    const std::string& path() const override { return base_->path(); }

   private:
    GatedEnv* env_;
    std::unique_ptr<WritableFile> base_;
  };

  void Wait(Gate op) {
    if (op != gate_) return;
    std::unique_lock<std::mutex> l(mu_);
    if (open_) return;
    if (std::this_thread::get_id() == loop_thread_) on_loop_while_shut_++;
    waiting_++;
    cv_.notify_all();
    cv_.wait_for(l, std::chrono::seconds(10), [&] { return open_; });
    waiting_--;
  }

  std::thread::id loop_thread_;
  Gate gate_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
  int on_loop_while_shut_ = 0;
};

TEST_CASE("ADropBeforeAnythingWasWrittenSaysTheArchiveIsEmpty") {
  // With nothing in the archive there is no position to resume from: the log says so
  // rather than naming a tranlog 0.
  auto chunks = FramesOfOneFile(10);
  REQUIRE(chunks.size() >= 2);
  TempDir logs;
  REQUIRE(LogInit(logs / "receiver.log", LogLevel::kError).ok());
  Fixture fx;
  fx.StartReceiver();
  auto l = fx.Streaming();
  l->Deliver(DataFrame(1, chunks[1].first, chunks[1].second));  // not the first frame
  const std::string log = test::ReadAll(logs / "receiver.log");
  REQUIRE(LogInit("", LogLevel::kInfo).ok());
  CHECK(l->closed_by_receiver);
  CHECK_MESSAGE(log.find("will resume from the start, as the archive is still empty") !=
                    std::string::npos,
                log);
  CHECK(log.find("tranlog 0") == std::string::npos);
}

TEST_CASE("FramesAreCheckedWhileTheDiskWrites") {
  auto chunks = FramesOfOneFile(30);
  REQUIRE(chunks.size() >= 5);
  GatedEnv genv(std::this_thread::get_id(), GatedEnv::Gate::kAppend);
  Fixture fx(&genv);
  auto o = fx.Options();
  o.inline_write_bytes = 0;  // every frame goes through the write job
  fx.StartReceiver(o);
  auto l = fx.Streaming();
  l->Deliver(DataFrame(1, chunks[0].first, chunks[0].second));
  // The write job starts at the end of this loop iteration and waits at the gate.
  fx.RunOnce();
  REQUIRE(genv.WaitForGate());
  CHECK(fx.receiver().syncing());
  // Meanwhile the loop receives and checks the next frames, and finds a bad one at
  // once: the disk does not hold up the checks.
  l->Deliver(DataFrame(1, chunks[1].first, chunks[1].second));
  l->Deliver(DataFrame(1, chunks[2].first, chunks[2].second));
  l->Deliver(DataFrame(1, chunks[4].first, chunks[4].second));
  CHECK(l->closed_by_receiver);
  CHECK_MESSAGE(l->close_reason.message().find("does not follow") != std::string::npos,
                l->close_reason.ToString());
  CHECK(l->Acks().empty());  // nothing is durable yet
  CHECK(genv.on_loop_while_shut() == 0);
  genv.Open();
  fx.Pump();
  // The frames checked before the bad one are all written and made durable.
  CHECK(Size(fx.ArchivePath(1)) == chunks[3].first);
  auto next = fx.Connected();
  CHECK(next->GetHello().resume == Position{1, chunks[3].first});
}

TEST_CASE("SmallFramesAreWrittenAndAnnouncedBeforeTheirFdatasync") {
  auto chunks = FramesOfOneFile(10);
  REQUIRE(chunks.size() >= 2);
  GatedEnv genv(std::this_thread::get_id(), GatedEnv::Gate::kSync);
  Fixture fx(&genv);
  fx.StartReceiver();  // frames up to 64 KiB are written on the loop thread
  std::vector<DurableEnd> written, durable;
  fx.receiver().on_written = [&](const DurableEnd& e) { written.push_back(e); };
  fx.receiver().on_durable = [&](const DurableEnd& e) { durable.push_back(e); };
  auto l = fx.Streaming();
  l->Deliver(DataFrame(1, chunks[0].first, chunks[0].second));
  l->Deliver(DataFrame(1, chunks[1].first, chunks[1].second));
  fx.RunOnce();
  // The frames are in the file and announced while the fdatasync still waits...
  REQUIRE(genv.WaitForGate());
  CHECK(genv.on_loop_while_shut() == 0);  // ...which runs on the thread pool
  const uint64_t end = chunks[1].first + chunks[1].second.size();
  CHECK(Size(fx.ArchivePath(1)) == end);
  REQUIRE(written.size() == 1);
  CHECK(written[0].pos == Position{1, end});
  CHECK(durable.empty());
  CHECK(l->Acks().empty());  // the Ack still waits for the fdatasync
  genv.Open();
  fx.Pump();
  REQUIRE(durable.size() == 1);
  CHECK(durable[0].pos == Position{1, end});
  auto acks = l->Acks();
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].durable == Position{1, end});
}

TEST_CASE("DiskFullStopsAckingCutsBackAndResumesWhenSpaceReturns") {
  SourceLog src;
  src.Commit(40, 2);
  src.Rotate();
  src.Commit(10);
  src.Close();
  FaultInjectionEnv fenv(Env::Default());
  Fixture fx(&fenv);
  fx.StartReceiver();
  auto l = fx.Streaming();
  auto chunks = src.Chunks(1, 4);
  l->Deliver(DataFrame(1, 0, chunks[0].second));
  fx.Pump();
  const uint64_t durable = chunks[1].first;
  REQUIRE(l->Acks().size() == 1);

  // Room for one more frame's bytes, not two: the second append fails.
  fenv.SetSpaceLeft(static_cast<int64_t>(chunks[1].second.size()));
  l->Deliver(DataFrame(1, chunks[1].first, chunks[1].second));
  l->Deliver(DataFrame(1, chunks[2].first, chunks[2].second));
  fx.Pump();
  CHECK(fx.receiver().state() == LogReceiver::State::kDiskFull);
  CHECK(l->closed_by_receiver);
  CHECK(l->Acks().size() == 1);  // nothing acknowledged after the failure
  CHECK(Size(fx.ArchivePath(1)) == durable);  // cut back to the durable end
  CHECK(fx.receiver().status().last_error.find(fx.archive().path()) != std::string::npos);

  // Retries: still full, still nothing written or acknowledged.
  auto l2 = fx.Connected();
  CHECK(l2->GetHello().resume == Position{1, durable});
  l2->Deliver(WelcomeFrame(Position{1, durable}, DurableEnd{{}, {2, 9999}, 0, 0, 0}));
  CHECK(fx.receiver().state() == LogReceiver::State::kDiskFull);
  l2->Deliver(DataFrame(1, chunks[1].first, chunks[1].second));
  fx.Pump();
  CHECK(l2->closed_by_receiver);
  CHECK(l2->Acks().empty());
  CHECK(Size(fx.ArchivePath(1)) == durable);

  // Space returns.
  fenv.SetSpaceLeft(INT64_MAX);
  fenv.SetNoSpace(false);
  auto l3 = fx.Connected();
  CHECK(l3->GetHello().resume == Position{1, durable});
  l3->Deliver(WelcomeFrame(Position{1, durable}));
  fx.Ship(*l3, src, 1, 4, durable);
  fx.Ship(*l3, src, 2, 4);
  CHECK(fx.receiver().state() == LogReceiver::State::kStreaming);
  CHECK(test::ReadAll(fx.ArchivePath(1)) == test::ReadAll(src.Path(1)));
  CHECK(test::ReadAll(fx.ArchivePath(2)) == test::ReadAll(src.Path(2)));
  CHECK(l3->Acks().back().durable == src.writer->end());
}

TEST_CASE("DiskFullWhenCreatingTheNextFile") {
  SourceLog src;
  src.Commit(10);
  src.Rotate();
  src.Commit(10);
  src.Close();
  FaultInjectionEnv fenv(Env::Default());
  Fixture fx(&fenv);
  fx.StartReceiver();
  auto l = fx.Streaming();
  fx.Ship(*l, src, 1, 100);
  fenv.SetNoSpace(true);
  l->Deliver(DataFrame(2, 0, src.Chunks(2, 100)[0].second));
  fx.Pump();
  CHECK(fx.receiver().state() == LogReceiver::State::kDiskFull);
  CHECK_FALSE(Env::Default()->FileExists(fx.ArchivePath(2)));
  fenv.SetNoSpace(false);
  auto l2 = fx.Connected();
  CHECK(l2->GetHello().resume == Position{2, 0});
  l2->Deliver(WelcomeFrame(Position{2, 0}));
  fx.Ship(*l2, src, 2, 3);
  CHECK(test::ReadAll(fx.ArchivePath(2)) == test::ReadAll(src.Path(2)));
}

TEST_CASE("RefusalsAreLoggedAndRetriedAtTheirPace") {
  Fixture fx;
  fx.StartReceiver();
  SUBCASE("fork in time: slowly") {
    auto l = fx.Connected();
    std::string words = "fork in time: reseed this standby from a new backup of the primary";
    l->Deliver(test::RefuseFrame(wire::RefuseCode::kForkInTime, words));
    fx.Pump();
    CHECK(fx.receiver().state() == LogReceiver::State::kRefused);
    CHECK(fx.receiver().status().last_error.find(words) != std::string::npos);
    auto t0 = std::chrono::steady_clock::now();
    int before = fx.connector().attempts;
    REQUIRE(fx.RunUntil([&] { return fx.connector().attempts > before; }));
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(140));
    CHECK(fx.receiver().state() == LogReceiver::State::kRefused);
    auto l2 = fx.Connected();
    l2->Deliver(WelcomeFrame(Position{1, 0}));
    CHECK(fx.receiver().state() == LogReceiver::State::kStreaming);
  }
  SUBCASE("too many receivers: with backoff") {
    auto l = fx.Connected();
    l->Deliver(test::RefuseFrame(wire::RefuseCode::kTooManyReceivers, "too many receivers"));
    fx.Pump();
    CHECK(fx.receiver().state() == LogReceiver::State::kRefused);
    auto t0 = std::chrono::steady_clock::now();
    int before = fx.connector().attempts;
    REQUIRE(fx.RunUntil([&] { return fx.connector().attempts > before; }));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(140));
  }
}

TEST_CASE("ReconnectsAfterALostSenderAndWhileItIsDown") {
  SourceLog src;
  src.Commit(12);
  src.Close();
  Fixture fx;
  fx.StartReceiver();
  auto l = fx.Streaming();
  auto chunks = src.Chunks(1, 4);
  l->Deliver(DataFrame(1, 0, chunks[0].second));
  fx.Pump();
  fx.connector().refuse_connections = true;
  fx.connector().PeerClose(l);
  CHECK(fx.receiver().state() == LogReceiver::State::kConnecting);
  int before = fx.connector().attempts;
  REQUIRE(fx.RunUntil([&] { return fx.connector().attempts >= before + 3; }));
  CHECK(fx.receiver().state() == LogReceiver::State::kConnecting);
  fx.connector().refuse_connections = false;
  auto l2 = fx.Connected();
  CHECK(l2->GetHello().resume == Position{1, chunks[1].first});
  l2->Deliver(WelcomeFrame(Position{1, chunks[1].first}));
  fx.Ship(*l2, src, 1, 4, chunks[1].first);
  CHECK(test::ReadAll(fx.ArchivePath(1)) == test::ReadAll(src.Path(1)));
}

// A receiver with a 50 ms timeout and 10 ms keepalives, welcomed at the start.
std::shared_ptr<Link> WelcomedWithShortTimeouts(Fixture& fx) {
  auto o = fx.Options();
  o.timeout_ms = 50;
  o.keepalive_ms = 10;
  fx.StartReceiver(o);
  auto l = fx.Connected();
  wire::Welcome w;
  w.start = Position{1, 0};
  w.keepalive_ms = 10;
  w.timeout_ms = 50;
  std::string frame;
  wire::EncodeWelcome(&frame, w);
  l->Deliver(frame);
  return l;
}

TEST_CASE("ASilentSenderIsDroppedAfterTheTimeout") {
  Fixture fx;
  auto l = WelcomedWithShortTimeouts(fx);
  REQUIRE(fx.RunUntil([&] { return l->closed_by_receiver; }));
  CHECK(l->close_reason.message().find("silent") != std::string::npos);
  bool keepalive = false;
  for (auto& [t, body] : l->Frames()) keepalive = keepalive || t == wire::MsgType::kKeepalive;
  CHECK(keepalive);
  REQUIRE(fx.RunUntil([&] { return fx.connector().links.size() >= 2; }));
}

// The same stream over wire::MemoryPipe, whose callbacks arrive from the loop as a
// socket's do: Hello, Welcome, Data, Acks up to the end, a clean stop, every handle closed.
TEST_CASE("OverAMemoryPipe") {
  SourceLog src;
  src.Commit(30);
  src.Rotate();
  src.Commit(20);
  src.Close();
  TempDir archive;
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::unique_ptr<wire::Transport> sender;
  wire::FrameReader from_receiver(wire::kMaxReceiverFrame);
  bool hello = false;
  wire::Ack last_ack;
  std::unique_ptr<LogReceiver> receiver;
  {
    logreceiver::ReceiverOptions o;
    o.stone = "standby1";
    o.master = "memory";
    o.env = Env::Default();
    o.archive_dir = archive.path();
    receiver = std::make_unique<LogReceiver>(&loop, o, [&](auto done) {
      auto [a, b] = wire::MemoryPipe(&loop);
      sender = std::move(b);
      wire::Transport::Callbacks cb;
      cb.on_ready = [] {};
      cb.on_writable = [] {};
      cb.on_closed = [&](const Status&) { sender.reset(); };
      cb.on_data = [&](std::string_view bytes) {
        from_receiver.Feed(bytes);
        wire::Frame f;
        while (from_receiver.Next(&f) == wire::FrameReader::Result::kFrame) {
          if (f.type == wire::MsgType::kHello) {
            hello = true;
            sender->Write(WelcomeFrame(Position{1, 0}));
            for (uint64_t id = 1; id <= 2; id++) {
              for (auto& [off, raw] : src.Chunks(id, 7)) sender->Write(DataFrame(id, off, raw));
            }
          } else if (f.type == wire::MsgType::kAck) {
            REQUIRE(wire::DecodeAck(f.body, &last_ack).ok());
            if (last_ack.durable == src.writer->end()) receiver->Stop("all shipped");
          }
        }
      };
      sender->Start(std::move(cb));
      done(std::move(a));
    });
  }
  REQUIRE(receiver->Start().ok());
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(hello);
  CHECK(last_ack.durable == src.writer->end());
  CHECK(last_ack.tid == src.writer->last_tid());
  for (uint64_t id = 1; id <= 2; id++) {
    CHECK(test::ReadAll(archive / tranlog::FileName("tranlog", id)) ==
          test::ReadAll(src.Path(id)));
  }
  receiver.reset();
  sender.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace

// A damaged length field (a plaintext link) makes the rest of the stream the body of a
// frame that never ends; the sender's keepalives trickling into it must not keep the
// link alive: the silence clock counts complete frames.
TEST_CASE("AFrameThatNeverCompletesIsDroppedAtTheTimeout") {
  Fixture fx;
  auto l = WelcomedWithShortTimeouts(fx);
  // A Data frame header claiming 4096 bytes, then one byte per loop turn: at that pace
  // the frame would take far longer than its allowance (timeout + 4096 B at 64 KiB/s).
  l->Deliver(std::string{char(0), char(16), char(0), char(0), char(wire::MsgType::kData)});
  size_t trickled = 0;
  REQUIRE(fx.RunUntil([&] {
    if (l->closed_by_receiver) return true;
    if (trickled < 4000) {
      l->Deliver(std::string(1, 'k'));
      trickled++;
    }
    return false;
  }));
  CHECK(trickled < 4000);
  CHECK(l->close_reason.message().find("no complete frame") != std::string::npos);
  CHECK(l->close_reason.message().find("4096 bytes") != std::string::npos);
  REQUIRE(fx.RunUntil([&] { return fx.connector().links.size() >= 2; }));
}

}  // namespace tranship
