// Stone server scenarios over the real Unix socket: a real Engine, the server loop on
// a thread and real StoneClients.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <csignal>

#include <fmt/format.h>

#include "test/regex.h"
#include "test/stone/stone_fixture.h"

namespace tranship {
namespace {

using test::RawConn;
using test::StoneFixture;
namespace cp = client_protocol;

TEST_CASE("GetPutDel") {
  StoneFixture stone;
  auto c = stone.Connect();
  auto miss = c->Get("k");
  REQUIRE(miss.ok());
  CHECK_FALSE(miss->found);
  CHECK(miss->version == 0);

  auto t1 = c->Put("k", "v1");
  REQUIRE(t1.ok());
  CHECK(*t1 > 0);
  auto hit = c->Get("k");
  REQUIRE(hit.ok());
  CHECK(hit->found);
  CHECK(hit->value == "v1");
  CHECK(hit->version == *t1);

  auto t2 = c->Del("k");
  REQUIRE(t2.ok());
  CHECK(*t2 > *t1);
  auto gone = c->Get("k");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->found);
  // The engine saw it too: the server is not answering from a cache of its own.
  CHECK_FALSE(stone.engine()->Get("k").found);
}

TEST_CASE("TransactionConflictAndOwnWrites") {
  StoneFixture stone;
  auto a = stone.Connect();
  auto b = stone.Connect();
  REQUIRE(a->Put("k", "0").ok());

  Transaction txn(a.get());
  auto seen = txn.Get("k");
  REQUIRE(seen.ok());
  CHECK(**seen == "0");
  REQUIRE(b->Put("k", "changed").ok());  // another client wins the race
  txn.Put("k", "1");
  auto own = txn.Get("k");
  REQUIRE(own.ok());
  CHECK(**own == "1");  // reads of own writes see them
  txn.Del("other");
  auto deleted = txn.Get("other");
  REQUIRE(deleted.ok());
  CHECK_FALSE(deleted->has_value());
  CHECK(txn.request().reads.size() == 1);  // own-write reads are not validated

  auto r = txn.Commit();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsConflict());
  CHECK(a->Get("k")->value == "changed");  // nothing of the conflicting txn applied

  Transaction retry(a.get());
  REQUIRE(retry.Get("k").ok());
  retry.Put("k", "2");
  retry.Put("k2", "x");
  auto ok = retry.Commit();
  REQUIRE(ok.ok());
  CHECK(a->Get("k")->value == "2");
  CHECK(a->Get("k2")->version == *ok);
}

TEST_CASE("AdminVerbs") {
  StoneFixture stone;
  auto c = stone.Connect();
  REQUIRE(c->Put("a", "1").ok());
  REQUIRE(c->Put("b", "2").ok());

  auto cp1 = c->Admin("checkpoint");
  REQUIRE(cp1.ok());
  CHECK(std::regex_match(*cp1, std::regex("checkpoint at TID [0-9]+")));

  auto nl = c->Admin("start-new-log");
  REQUIRE(nl.ok());
  CHECK(*nl == "started tranlog 2");

  auto report = c->Admin("file-size-report");
  REQUIRE(report.ok());
  CHECK(report->find("tranlog1.dbf") != std::string::npos);
  CHECK(report->find("tranlog2.dbf") != std::string::npos);
  CHECK(report->find("total of 2 tranlog files") != std::string::npos);
  CHECK(report->find("extent0.dbf") != std::string::npos);

  auto digest = c->Admin("digest");
  REQUIRE(digest.ok());
  std::smatch m;
  REQUIRE(std::regex_match(*digest, m, std::regex("tid ([0-9]+) keys 2 sha256 ([0-9a-f]{64})")));
  Digest d = stone.engine()->ComputeDigest();
  CHECK(m[1] == std::to_string(d.tid));
  CHECK(m[2] == d.sha256_hex);

  auto bad = c->Admin("frobnicate");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kInvalidArgument);
  CHECK(bad.status().message().find("frobnicate") != std::string::npos);
  CHECK(bad.status().message().find("checkpoint, start-new-log, file-size-report, digest") !=
        std::string::npos);
  CHECK(bad.status().message().find('\n') == std::string::npos);

  auto extra = c->Admin("digest", {"now"});
  REQUIRE_FALSE(extra.ok());
  CHECK(extra.status().code() == Status::Code::kInvalidArgument);
  // The connection is still usable after error replies.
  CHECK(c->Get("a")->value == "1");
}

TEST_CASE("Info") {
  StoneFixture stone;
  auto c = stone.Connect();
  uint64_t before = NowMicros();
  for (int i = 0; i < 5; i++) REQUIRE(c->Put("k" + std::to_string(i), "v").ok());
  auto info = c->Info();
  REQUIRE(info.ok());
  CHECK(info->name == "teststone");
  CHECK(info->version == TRANSHIP_VERSION);
  CHECK(info->pid == static_cast<uint32_t>(::getpid()));
  CHECK(info->state == "running");
  CHECK(info->started_us > 0);
  CHECK(info->started_us <= before);
  CHECK(info->durable_end == stone.engine()->durable_end());
  CHECK(info->durable_end.tid > 0);
  CHECK(info->stats.commits == 5);
  CHECK(info->stats.keys == 5);
}

TEST_CASE("LogreceiverArchiveNotifyIsCountedAndRecorded") {
  StoneFixture stone;
  auto c = stone.Connect();
  auto before = c->Info();
  REQUIRE(before.ok());
  CHECK(before->logreceivers == 0);
  CHECK(before->archive_end == DurableEnd{});

  DurableEnd archive;
  archive.lineage = Lineage{1, 2};
  archive.pos = Position{3, 4096};
  archive.tid = 77;
  archive.chain = 0xabcdef;
  archive.commit_time_us = 123456;
  {
    RawConn receiver(stone.socket_path());
    std::string msg;
    cp::EncodeHello(&msg, 1, cp::kLogreceiverClientName);
    cp::EncodeArchiveNotify(&msg, 2, archive);
    receiver.Send(msg);
    cp::Frame f;
    REQUIRE(receiver.ReadFrame(&f));
    CHECK(f.type == cp::MsgType::kHelloReply);
    REQUIRE(receiver.ReadFrame(&f));
    CHECK(f.type == cp::MsgType::kArchiveNotifyReply);
    CHECK(f.request_id == 2);
    CHECK(cp::DecodeArchiveNotifyReply(f.body).ok());

    auto during = c->Info();
    REQUIRE(during.ok());
    CHECK(during->logreceivers == 1);
    CHECK(during->archive_end == archive);
  }
  // The receiver's connection is gone: no longer counted, its report stays.
  CHECK(test::WaitFor([&] {
    auto after = c->Info();
    return after.ok() && after->logreceivers == 0;
  }));
  CHECK(c->Info()->archive_end == archive);
}

TEST_CASE("SubscribeReceivesAdvancingDurableEnds") {
  StoneFixture stone;
  auto sub = stone.Connect();
  auto writer = stone.Connect();
  REQUIRE(sub->Subscribe().ok());
  auto first = sub->WaitDurableEnd(5000);
  REQUIRE(first.ok());
  CHECK(*first == stone.engine()->durable_end());

  DurableEnd last = *first;
  for (int i = 0; i < 20; i++) {
    auto tid = writer->Put("k", std::to_string(i));
    REQUIRE(tid.ok());
    // Updates are coalesced, so wait until one covers this commit.
    while (last.tid < *tid) {
      auto e = sub->WaitDurableEnd(5000);
      REQUIRE(e.ok());
      CHECK(e->pos > last.pos);
      CHECK(e->tid > last.tid);
      CHECK(e->lineage == first->lineage);
      last = *e;
    }
    CHECK(last.commit_time_us > 0);
  }
  // A log switch moves the end into the next file.
  REQUIRE(writer->Admin("start-new-log").ok());
  test::WaitFor([&] {
    auto e = sub->WaitDurableEnd(100);
    if (e.ok()) last = *e;
    return last.pos.file_id == 2;
  });
  CHECK(last.pos.file_id == 2);

  // Nothing new: no update.
  auto none = sub->WaitDurableEnd(50);
  CHECK(none.status().code() == Status::Code::kTimedOut);
  // A subscribed connection only delivers updates.
  CHECK(sub->Get("k").status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("ALogsenderHearsOfADurableCommitBeforeTheCommitter") {
  // The stone writes the new durable end to its subscribers before the commit replies:
  // shipping starts while the replies are written. So once a commit is acknowledged, the
  // end that covers it is already waiting on the subscriber's socket.
  StoneFixture stone;
  auto sub = stone.Connect();
  auto writer = stone.Connect();
  REQUIRE(sub->Subscribe().ok());
  REQUIRE(sub->WaitDurableEnd(5000).ok());
  for (int i = 0; i < 300; i++) {
    auto tid = writer->Put("k", std::to_string(i));
    REQUIRE(tid.ok());
    uint64_t newest = 0;
    while (true) {  // every end already there, none waited for
      auto e = sub->WaitDurableEnd(0);
      if (!e.ok()) {
        REQUIRE(e.status().code() == Status::Code::kTimedOut);
        break;
      }
      newest = std::max(newest, e->tid);
    }
    INFO("commit ", i, " (TID ", *tid, ")");
    REQUIRE(newest >= *tid);
  }
}

TEST_CASE("GarbageClosesOnlyThatConnection") {
  StoneFixture stone;
  auto good = stone.Connect();
  REQUIRE(good->Put("k", "before").ok());

  SUBCASE("random bytes") {
    RawConn raw(stone.socket_path());
    raw.Send(std::string("GET / HTTP/1.1\r\nHost: stone\r\n\r\n"));
    CHECK(raw.WaitClosed());
  }
  SUBCASE("oversize length after a valid hello") {
    RawConn raw(stone.socket_path());
    std::string hello;
    cp::EncodeHello(&hello, 1, "raw");
    raw.Send(hello);
    cp::Frame f;
    REQUIRE(raw.ReadFrame(&f));
    CHECK(f.type == cp::MsgType::kHelloReply);
    std::string hdr;
    PutFixed32(&hdr, cp::kMaxBodySize + 1);
    hdr.push_back(static_cast<char>(cp::MsgType::kCommit));
    PutFixed32(&hdr, 2);
    raw.Send(hdr);
    CHECK(raw.WaitClosed());
  }
  SUBCASE("request before hello") {
    RawConn raw(stone.socket_path());
    std::string get;
    cp::EncodeGet(&get, 1, "k");
    raw.Send(get);
    CHECK(raw.WaitClosed());
  }
  SUBCASE("malformed body") {
    RawConn raw(stone.socket_path());
    std::string msg;
    cp::EncodeHello(&msg, 1, "raw");
    cp::EncodeGet(&msg, 2, "k");
    msg.back() = static_cast<char>(0xff);  // ...then corrupt the get's key length
    msg[msg.size() - 2] = static_cast<char>(0x7f);
    raw.Send(msg);
    cp::Frame f;
    REQUIRE(raw.ReadFrame(&f));
    CHECK(f.type == cp::MsgType::kHelloReply);
    CHECK(raw.WaitClosed());
  }
  // The well-behaved client never noticed.
  CHECK(good->Get("k")->value == "before");
  REQUIRE(good->Put("k", "after").ok());
  CHECK(good->Get("k")->value == "after");
}

TEST_CASE("HalfClosedClientGetsItsRepliesThenEof") {
  StoneFixture stone;
  RawConn raw(stone.socket_path());
  std::string msg;
  cp::EncodeHello(&msg, 1, "half");
  TxnRequest t;
  t.writes.push_back({WriteOp::Kind::kPut, "hc", "v"});
  cp::EncodeCommit(&msg, 2, t);
  raw.Send(msg);
  raw.ShutdownWrite();
  cp::Frame f;
  REQUIRE(raw.ReadFrame(&f));
  CHECK(f.type == cp::MsgType::kHelloReply);
  REQUIRE(raw.ReadFrame(&f));
  CHECK(f.type == cp::MsgType::kCommitReply);
  uint64_t tid = 0;
  CHECK(cp::DecodeCommitReply(f.body, &tid).ok());
  CHECK(raw.WaitClosed());
  CHECK(stone.engine()->Get("hc").version == tid);
}

TEST_CASE("WrongProtocolVersionIsAnsweredThenClosed") {
  StoneFixture stone;
  RawConn raw(stone.socket_path());
  std::string msg;
  cp::EncodeHello(&msg, 7, "future");
  msg[cp::kFrameHeaderSize + 4] = 99;  // protocol_version low byte
  raw.Send(msg);
  cp::Frame f;
  REQUIRE(raw.ReadFrame(&f));
  CHECK(f.type == cp::MsgType::kHelloReply);
  CHECK(f.request_id == 7);
  cp::HelloReply reply;
  Status s = cp::DecodeHelloReply(f.body, &reply);
  CHECK(s.code() == Status::Code::kNotSupported);
  CHECK(s.message().find("version 99") != std::string::npos);
  CHECK(raw.WaitClosed());
}

TEST_CASE("ValuesAtTheMessageLimit") {
  StoneFixture stone;
  auto c = stone.Connect();
  // The largest value a commit can carry (empty key) still fits in the get reply.
  std::string big(cp::kMaxBodySize - 16, 'b');
  auto tid = c->Put("", big);
  REQUIRE(tid.ok());
  auto r = c->Get("");
  REQUIRE(r.ok());
  CHECK(r->value == big);
  // One byte over is refused by the client before it is sent; the connection lives on.
  auto over = c->Put("k", std::string(cp::kMaxBodySize, 'x'));
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().code() == Status::Code::kInvalidArgument);
  CHECK(c->Put("k", "small").ok());
}

TEST_CASE("PipelinedRequestsAreAnsweredInOrder") {
  StoneFixture stone;
  RawConn raw(stone.socket_path());
  std::string burst;
  cp::EncodeHello(&burst, 0, "pipeline");
  constexpr uint32_t kN = 2000;
  for (uint32_t i = 1; i <= kN; i++) {
    TxnRequest t;
    t.writes.push_back({WriteOp::Kind::kPut, "p" + std::to_string(i % 100), "v"});
    cp::EncodeCommit(&burst, i, t);
  }
  cp::EncodeInfo(&burst, kN + 1);
  raw.Send(burst);  // one write: the server parses many messages per read
  cp::Frame f;
  REQUIRE(raw.ReadFrame(&f));
  CHECK(f.type == cp::MsgType::kHelloReply);
  // Commits are answered in order; the info reply (answered inline, not by the log
  // writer) may overtake them: clients match replies by request id.
  uint64_t last_tid = 0;
  uint32_t next_commit = 1;
  bool info_seen = false;
  while (next_commit <= kN || !info_seen) {
    REQUIRE(raw.ReadFrame(&f));
    if (f.type == cp::MsgType::kInfoReply) {
      CHECK(f.request_id == kN + 1);
      CHECK_FALSE(info_seen);
      info_seen = true;
      continue;
    }
    REQUIRE(f.type == cp::MsgType::kCommitReply);
    CHECK(f.request_id == next_commit++);
    uint64_t tid = 0;
    REQUIRE(cp::DecodeCommitReply(f.body, &tid).ok());
    CHECK(tid > last_tid);
    last_tid = tid;
  }
}

TEST_CASE("ManyConcurrentClients") {
  StoneFixture stone;
  constexpr int kClients = 16;
  constexpr int kCommits = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; t++) {
    threads.emplace_back([&, t] {
      auto c = StoneClient::Connect(stone.socket_path(), "teststone");
      if (!c.ok()) {
        failures++;
        return;
      }
      for (int i = 0; i < kCommits; i++) {
        if (!(*c)->Put(fmt::format("c{}-{}", t, i), std::to_string(i)).ok()) failures++;
      }
      // A shared counter: optimistic increments retried on conflict lose nothing.
      for (int i = 0; i < 20; i++) {
        for (;;) {
          Transaction txn(c->get());
          auto v = txn.Get("counter");
          if (!v.ok()) {
            failures++;
            break;
          }
          int n = v->has_value() ? std::stoi(**v) : 0;
          txn.Put("counter", std::to_string(n + 1));
          auto r = txn.Commit();
          if (r.ok()) break;
          if (!r.status().IsConflict()) {
            failures++;
            break;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  auto c = stone.Connect();
  CHECK(c->Get("counter")->value == std::to_string(kClients * 20));
  CHECK(c->Get("c15-199")->value == "199");
  auto info = c->Info();
  REQUIRE(info.ok());
  CHECK(info->stats.keys == kClients * kCommits + 1);
}

TEST_CASE("NotRunningSaysWhatToDo") {
  test::TempDir dir;
  auto c = StoneClient::Connect(dir / "nothing.sock", "quux", 1000);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() ==
        "The stone 'quux' is not running. To fix this run 'startstone quux'.");
}

TEST_CASE("SigtermStopsTheServer") {
  StoneFixture stone(/*stale_socket=*/false, /*handle_signals=*/true);
  auto c = stone.Connect();
  REQUIRE(c->Put("k", "v").ok());
  REQUIRE(::kill(::getpid(), SIGTERM) == 0);
  CHECK(test::WaitFor([&] { return stone.stopped(); }));
  CHECK_FALSE(c->Get("k").ok());  // the server closed the connection
  auto again = StoneClient::Connect(stone.socket_path(), "teststone", 500);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message().find("is not running") != std::string::npos);
}

TEST_CASE("StaleSocketIsReplaced") {
  StoneFixture stone(/*stale_socket=*/true);
  auto c = stone.Connect();
  CHECK(c->Put("k", "v").ok());
}

TEST_CASE("StopAnswersOrDropsButNeverLiesAboutCommits") {
  StoneFixture stone;
  constexpr int kClients = 4;
  std::vector<std::vector<std::string>> acked(kClients);
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; t++) {
    threads.emplace_back([&, t] {
      auto c = StoneClient::Connect(stone.socket_path(), "teststone");
      if (!c.ok()) return;
      for (int i = 0;; i++) {
        std::string key = fmt::format("s{}-{}", t, i);
        if (!(*c)->Put(key, "v").ok()) return;  // the stone went away
        acked[t].push_back(key);
        if (i == 10) started++;
      }
    });
  }
  REQUIRE(test::WaitFor([&] { return started.load() == kClients; }));
  stone.Stop();
  for (auto& th : threads) th.join();
  // Every acknowledged commit is in the engine's durable state.
  for (const auto& keys : acked) {
    CHECK(keys.size() > 10);
    for (const auto& k : keys) CHECK(stone.engine()->Get(k).found);
  }
  CHECK_FALSE(StoneClient::Connect(stone.socket_path(), "teststone", 500).ok());
}

TEST_CASE("SocketIsPrivateAndASecondServerIsRefused") {
  StoneFixture stone;
  struct stat st;
  REQUIRE(::stat(stone.socket_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  StoneServerOptions o;
  o.name = "second";
  o.socket_path = stone.socket_path();
  o.handle_signals = false;
  StoneServer second(stone.stone(), o);
  bool listened = false;
  Status s = second.Run([&] { listened = true; });
  CHECK_FALSE(listened);
  CHECK(s.code() == Status::Code::kBusy);
  // The first server still owns the socket.
  auto c = stone.Connect();
  CHECK(c->Put("k", "v").ok());
}

}  // namespace
}  // namespace tranship
