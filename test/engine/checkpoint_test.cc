// Checkpoints of a large state while commits go on: the log writer only starts a
// checkpoint, so commits are answered while its extent is still being written, and that
// extent holds exactly the state at the checkpoint's TID, not a later one.

#include <doctest/doctest.h>

#include <future>
#include <map>
#include <string>

#include <fmt/format.h>

#include "engine/engine.h"
#include "engine/extent.h"
#include "test/test_util.h"

namespace tranship {
namespace {

TxnRequest Put(const std::string& k, const std::string& v) {
  TxnRequest t;
  t.writes.push_back(WriteOp{WriteOp::Kind::kPut, k, v});
  return t;
}

TEST_CASE("commits are answered while a checkpoint's extent is written") {
  test::TempDir dir;
  EngineOptions o;
  o.extent_dir = dir / "extent";
  o.tranlog_dirs = {dir / "tranlog"};
  o.checkpoint_interval_s = 0;
  // About 1.3 MB of state written at 256 KiB/s: the extent takes some 5 s, while the
  // commits below take a few fdatasyncs each.
  o.state_write_bytes_per_s = 256 << 10;
  REQUIRE(Engine::Create(o).ok());
  auto opened = Engine::Open(o);
  REQUIRE(opened.ok());
  std::unique_ptr<Engine> e = std::move(*opened);
  std::map<std::string, std::string> expected;  // the state at the checkpoint
  for (int batch = 0; batch < 10; batch++) {
    TxnRequest t;
    for (int i = 0; i < 1000; i++) {
      std::string k = fmt::format("key{:05}", batch * 1000 + i);
      t.writes.push_back(WriteOp{WriteOp::Kind::kPut, k, std::string(100, 'a')});
      expected[k] = std::string(100, 'a');
    }
    REQUIRE(e->Commit(std::move(t)).ok());
  }

  std::future<Result<uint64_t>> ckpt = std::async(std::launch::async, [&] {
    return e->Checkpoint();
  });
  // The checkpoint record is durable once the durable end passes the last commit.
  uint64_t before = e->durable_end().tid;
  while (e->durable_end().tid == before) std::this_thread::yield();
  for (int i = 0; i < 20; i++) {
    // Changes the checkpoint's scan has not passed yet, and one it never had.
    REQUIRE(e->Commit(Put(fmt::format("key{:05}", 9999 - i), "later")).ok());
    REQUIRE(e->Commit(Put(fmt::format("new{:02}", i), "later")).ok());
  }
  // Forty commits were answered, and the extent is still being written.
  CHECK(ckpt.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  Result<uint64_t> tid = ckpt.get();
  REQUIRE(tid.ok());

  ExtentHeader h;
  StateMap state;
  REQUIRE(ReadExtent(Env::Default(), dir / "extent/extent0.dbf", &h, &state).ok());
  CHECK(h.tid == *tid);
  REQUIRE(state.size() == expected.size());
  for (const auto& [k, v] : expected) {
    auto it = state.find(k);
    REQUIRE(it != state.end());
    CHECK(it->second.value == v);
  }
  CHECK(e->Get("key09999").value == "later");
  REQUIRE(e->Close().ok());
}

}  // namespace
}  // namespace tranship
