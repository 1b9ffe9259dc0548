// Where a logreceiver starts and how it crosses a lineage junction: the start-mode
// choice for an empty archive (ChooseStart, and a LogReceiver that waits for its stone),
// and an archive that goes on, without a log switch, with a new lineage's first file
// (CheckChunk and Archive::Scan).

#include <doctest/doctest.h>

#include <chrono>

#include "tranlog/format.h"
#include "logreceiver/archive.h"
#include "logreceiver/receiver.h"
#include "logreceiver/record_check.h"
#include "logreceiver/start_point.h"
#include "test/logreceiver/fake_sender.h"

namespace tranship {
namespace {

using logreceiver::ChooseStart;
using logreceiver::LogReceiver;
using logreceiver::StartChoice;
using logreceiver::StreamEnd;
using test::FakeConnector;
using test::SourceLog;
using test::TempDir;

StoneInfo RestoringStone() {
  StoneInfo info;
  info.state = "restore mode";
  info.stats.restore_mode = true;
  info.restored.lineage = Lineage{5, 6};
  info.restored.pos = Position{4, 900};
  info.restored.tid = 77;
  info.restored.chain = 0xabcdef;
  return info;
}

TEST_CASE("StartChoiceForAnEmptyArchive") {
  SUBCASE("--from-start ships the whole history, whatever the stone says") {
    StartChoice c = ChooseStart(true, std::nullopt, "standby1");
    CHECK_FALSE(c.wait);
    CHECK(c.mode == wire::StartMode::kFromStart);
  }
  SUBCASE("a stone that is not running is waited for") {
    StartChoice c = ChooseStart(false, std::nullopt, "standby1");
    CHECK(c.wait);
    CHECK(c.why.find("'standby1' is not running") != std::string::npos);
    CHECK(c.why.find("--from-start") != std::string::npos);
  }
  SUBCASE("a primary has no restored position: waited for") {
    StoneInfo info;
    info.state = "running";
    StartChoice c = ChooseStart(false, info, "standby1");
    CHECK(c.wait);
    CHECK(c.why.find("not in restore mode") != std::string::npos);
    CHECK(c.why.find("startstone standby1 -R") != std::string::npos);
  }
  SUBCASE("a stone in restore mode: after its restored TID, with its chain and lineage") {
    StartChoice c = ChooseStart(false, RestoringStone(), "standby1");
    CHECK_FALSE(c.wait);
    CHECK(c.mode == wire::StartMode::kAfterTid);
    CHECK(c.tid == 77);
    CHECK(c.chain == 0xabcdef);
    CHECK(c.lineage == Lineage{5, 6});
  }
}

TEST_CASE("AReceiverWithAnEmptyArchiveWaitsForItsStoneThenSaysAfterTid") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  TempDir archive;
  FakeConnector connector;
  std::optional<StoneInfo> stone;  // what the stone would answer; nullopt: not running
  int asked = 0;
  logreceiver::ReceiverOptions o;
  o.stone = "standby1";
  o.host = "testhost";
  o.master = "127.0.0.1:7000";
  o.env = Env::Default();
  o.archive_dir = archive.path();
  o.stone_wait_ms = 10;
  o.ask_stone = [&](std::function<void(std::optional<StoneInfo>)> done) {
    asked++;
    done(stone);
  };
  auto receiver = std::make_unique<LogReceiver>(&loop, o, connector.Make());
  REQUIRE(receiver->Start().ok());
  auto run_until = [&](const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  };
  CHECK(receiver->state() == LogReceiver::State::kWaitingForStone);
  CHECK(receiver->status().last_error.find("is not running") != std::string::npos);
  REQUIRE(run_until([&] { return asked >= 3; }));  // asks again, never connects meanwhile
  CHECK(connector.last() == nullptr);
  stone = RestoringStone();
  REQUIRE(run_until([&] { return connector.last() && connector.last()->open(); }));
  auto l = connector.last();
  l->cb.on_ready();
  wire::Hello h = l->GetHello();
  CHECK(h.mode == wire::StartMode::kAfterTid);
  CHECK(h.resume_tid == 77);
  CHECK(h.resume_chain == 0xabcdef);
  CHECK(h.lineage == Lineage{5, 6});
  receiver->Stop("test ends");
  for (int i = 0; i < 1000 && connector.DeliverCloses(); i++) {}
  uv_run(&loop, UV_RUN_DEFAULT);
  receiver.reset();
  CHECK(uv_loop_close(&loop) == 0);
}

// L1 in tranlog 1 (no log switch at its end), then L2's first file, tranlog 3, whose
// header continues L1's last TID and chain: what a standby receives after a planned
// failover whose new primary numbered its first file above its archive.
struct Junction {
  SourceLog l1;
  TempDir dir2;
  std::unique_ptr<tranlog::Writer> l2;
  Lineage lineage2{0x3333, 0x4444};

  explicit Junction(bool new_lineage = true) {
    l1.Commit(12);
    l1.Close();
    tranlog::WriterOptions o = l1.opts;
    o.dirs = {dir2.path()};
    Lineage l = new_lineage ? lineage2 : l1.lineage;
    auto w = tranlog::Writer::CreateFile(o, l, 3, l1.writer->last_tid() + 1, l1.writer->chain());
    REQUIRE(w.ok());
    l2 = std::move(*w);
    tranlog::LineageStartPayload ls;
    ls.lineage = l;
    ls.parent = l1.lineage;
    ls.parent_end = l1.writer->end();
    ls.parent_tid = l1.writer->last_tid();
    l2->Add(tranlog::RecordType::kLineageStart, tranlog::kFlagBatchStart, 3000000,
            AsBytes(tranlog::EncodeLineageStart(ls)));
    for (int i = 0; i < 5; i++) {
      l2->Add(tranlog::RecordType::kCommit, tranlog::kFlagBatchStart, 3000001 + i,
              AsBytes("after the junction " + std::to_string(i)));
    }
    REQUIRE(l2->Flush().ok());
    REQUIRE(l2->Close().ok());
  }
  std::string L1File() const { return test::ReadAll(l1.Path(1)); }
  std::string L2File() const { return test::ReadAll(dir2 / tranlog::FileName("tranlog", 3)); }
};

TEST_CASE("ANewLineagesFirstFileMayFollowWithoutALogSwitch") {
  Junction j;
  StreamEnd end;
  end.anchor = true;
  REQUIRE(logreceiver::CheckChunk("tranlog1.dbf", 1, 0, j.L1File(), &end).ok());
  CHECK(end.lineage == j.l1.lineage);
  StreamEnd at_l1_end = end;
  REQUIRE(logreceiver::CheckChunk("tranlog3.dbf", 3, 0, j.L2File(), &end).ok());
  CHECK(end.lineage == j.lineage2);
  CHECK(end.pos == j.l2->end());
  CHECK(end.tid == j.l2->last_tid());

  // Into an archive: the hole between tranlog 1 and 3 is a junction, not damage.
  TempDir dir;
  {
    logreceiver::Archive a(Env::Default(), dir.path(), "tranlog");
    REQUIRE(a.Scan().ok());
    StreamEnd e = a.written_end();
    REQUIRE(logreceiver::CheckChunk("tranlog1.dbf", 1, 0, j.L1File(), &e).ok());
    REQUIRE(a.Append(1, 0, j.L1File(), e).ok());
    REQUIRE(logreceiver::CheckChunk("tranlog3.dbf", 3, 0, j.L2File(), &e).ok());
    REQUIRE(a.Append(3, 0, j.L2File(), e).ok());
    REQUIRE(a.Sync().ok());
  }
  logreceiver::Archive again(Env::Default(), dir.path(), "tranlog");
  Status s = again.Scan();
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(again.durable_end().pos == j.l2->end());
  CHECK(again.durable_end().lineage == j.lineage2);
  (void)at_l1_end;
}

TEST_CASE("OnlyANewLineageMaySkipIds") {
  Junction j(/*new_lineage=*/false);
  StreamEnd end;
  end.anchor = true;
  REQUIRE(logreceiver::CheckChunk("tranlog1.dbf", 1, 0, j.L1File(), &end).ok());
  StreamEnd before = end;
  Status s = logreceiver::CheckChunk("tranlog3.dbf", 3, 0, j.L2File(), &end);
  CHECK(s.IsCorruption());
  CHECK(s.message().find("only a new lineage's first file may skip tranlog ids") !=
        std::string::npos);
  CHECK(end == before);
  // On disk, the same hole is damage.
  TempDir dir;
  test::WriteAll(dir / "tranlog1.dbf", j.L1File());
  test::WriteAll(dir / "tranlog3.dbf", j.L2File());
  logreceiver::Archive a(Env::Default(), dir.path(), "tranlog");
  Status scan = a.Scan();
  CHECK(scan.IsCorruption());
  CHECK(scan.message().find("has no tranlog2.dbf") != std::string::npos);
}

TEST_CASE("AJunctionMustContinueTheTidAndChain") {
  Junction j;
  StreamEnd end;
  end.anchor = true;
  std::string l1 = j.L1File();
  // Only part of tranlog 1: its end is not where L2 continues.
  auto chunks = j.l1.Chunks(1, 5);
  REQUIRE(logreceiver::CheckChunk("tranlog1.dbf", 1, 0, chunks[0].second, &end).ok());
  Status s = logreceiver::CheckChunk("tranlog3.dbf", 3, 0, j.L2File(), &end);
  CHECK(s.IsCorruption());
  CHECK(s.message().find("does not continue the previous file") != std::string::npos);
}

}  // namespace
}  // namespace tranship
