// Consistent scans of a changing state (engine/snapshot_scan.h): whatever the writes
// between two chunks, a scan returns exactly the state at the TID it opened at, keeps
// only pre-images of keys ahead of it, and fails cleanly when the state is replaced.

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/env.h"
#include "engine/extent.h"
#include "engine/snapshot_scan.h"
#include "engine/state_store.h"
#include "test/test_util.h"

namespace tranship {
namespace {

std::string Key(uint64_t i) { return fmt::format("k{:06}", i); }

StateMap MakeState(uint64_t n) {
  StateMap m;
  for (uint64_t i = 0; i < n; i++) m.emplace(Key(i * 2), StateEntry{fmt::format("v{}", i), 1});
  return m;
}

// Reads the whole scan, `chunk` entries at a time, calling `between` after each chunk.
StateMap ReadAll(StateView& view, size_t chunk, const std::function<void()>& between = {}) {
  StateMap out;
  for (;;) {
    Result<bool> more = view.Next(chunk, [&](std::string_view k, const StateEntry& e) {
      CHECK(out.emplace(std::string(k), e).second);  // each key once
    });
    REQUIRE(more.ok());
    if (!*more) break;
    if (between) between();
  }
  return out;
}

bool Same(const StateMap& a, const StateMap& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    if (i->first != j->first || i->second.value != j->second.value ||
        i->second.version != j->second.version) {
      return false;
    }
  }
  return true;
}

TEST_CASE("a scan with no writes returns the state in key order") {
  StateStore store(MakeState(1000), 7, RestoreProgress{});
  auto scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  CHECK(scan->tid() == 7);
  CHECK(scan->keys() == 1000);
  CHECK(Same(ReadAll(*scan, 64), MakeState(1000)));
  CHECK(scan->pre_images() == 0);
}

TEST_CASE("writes between the chunks do not reach the scan: it returns the state at its TID") {
  // Random puts of old and new keys and deletes, ahead of and behind the cursor, several
  // times to the same key, between every chunk.
  for (uint32_t seed = 1; seed <= 20; seed++) {
    std::mt19937_64 rng(seed);
    StateStore store(MakeState(2000), 10, RestoreProgress{});
    StateMap at_open;
    store.Write([&](StateEdit* e, uint64_t*, RestoreProgress*) { at_open = e->map(); });
    auto scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
    uint64_t tid = 10;
    size_t peak = 0;
    StateMap got = ReadAll(*scan, 1 + rng() % 100, [&] {
      store.Write([&](StateEdit* e, uint64_t* applied, RestoreProgress*) {
        for (int i = 0; i < 20; i++) {
          std::string k = Key(rng() % 4200);  // even keys exist, odd ones are new
          tid++;
          if (rng() % 3 == 0) {
            e->Erase(k);
          } else {
            e->Put(std::string(k), fmt::format("t{}", tid), tid);
          }
        }
        *applied = tid;
      });
      peak = std::max(peak, scan->pre_images());
    });
    INFO("seed " << seed);
    CHECK(Same(got, at_open));
    // Only keys changed ahead of the cursor are kept: never more than the writes.
    CHECK(peak <= static_cast<size_t>(tid - 10));
  }
}

TEST_CASE("a key changed behind the cursor keeps no pre-image; one ahead keeps its first") {
  StateStore store(MakeState(100), 1, RestoreProgress{});  // keys k000000 .. k000198
  auto scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  StateMap got;
  auto put = [&](std::string_view k, const StateEntry& e) { got.emplace(std::string(k), e); };
  REQUIRE(scan->Next(10, put).ok());  // up to k000018
  store.Write([&](StateEdit* e, uint64_t*, RestoreProgress*) {
    e->Put(Key(0), "behind", 2);      // passed: nothing kept
    e->Put(Key(100), "first", 2);     // ahead: its pre-image "v50" is kept
    e->Put(Key(100), "second", 3);    // the first pre-image stays
    e->Erase(Key(102));               // ahead, deleted: kept
    e->Put(Key(101), "new", 4);       // ahead, absent before: kept as absent
  });
  CHECK(scan->pre_images() == 3);
  while (*scan->Next(10, put)) {
  }
  CHECK(got.size() == 100);
  CHECK(got.at(Key(0)).value == "v0");
  CHECK(got.at(Key(100)).value == "v50");
  CHECK(got.at(Key(102)).value == "v51");
  CHECK(got.count(Key(101)) == 0);
  CHECK(scan->pre_images() == 0);  // every pre-image is dropped once passed
}

TEST_CASE("two scans opened at different TIDs each see their own state") {
  StateStore store(MakeState(500), 1, RestoreProgress{});
  auto first = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  StateMap at_first = MakeState(500), at_second;
  store.Write([&](StateEdit* e, uint64_t* applied, RestoreProgress*) {
    for (uint64_t i = 0; i < 500; i += 7) e->Put(Key(i), "second", 2);
    *applied = 2;
    at_second = e->map();
  });
  auto second = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  CHECK(second->tid() == 2);
  auto churn = [&] {
    store.Write([&](StateEdit* e, uint64_t*, RestoreProgress*) {
      for (uint64_t i = 0; i < 1000; i += 3) e->Erase(Key(i));
      e->Put(Key(1001), "late", 3);
    });
  };
  StateMap got_second = ReadAll(*second, 50, churn);
  StateMap got_first = ReadAll(*first, 30, churn);
  CHECK(Same(got_first, at_first));
  CHECK(Same(got_second, at_second));
}

TEST_CASE("replacing the whole state aborts an open scan") {
  StateStore store(MakeState(100), 1, RestoreProgress{});
  auto scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  REQUIRE(scan->Next(10, [](std::string_view, const StateEntry&) {}).ok());
  StateMap other = MakeState(3);
  store.Write([&](StateEdit* e, uint64_t*, RestoreProgress*) { e->Replace(&other); });
  Result<bool> r = scan->Next(10, [](std::string_view, const StateEntry&) {});
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Status::Code::kAborted);
  CHECK(r.status().message().find("replaced") != std::string::npos);
}

TEST_CASE("a scan outlives its store and closes cleanly") {
  std::shared_ptr<SnapshotScan> scan;
  {
    StateStore store(MakeState(10), 1, RestoreProgress{});
    scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  }
  CHECK(ReadAll(*scan, 4).size() == 10);
}

TEST_CASE("an extent written from a scan while a thread writes holds the state at its TID") {
  test::TempDir dir;
  StateStore store(MakeState(20000), 5, RestoreProgress{});
  StateMap at_open;
  store.Write([&](StateEdit* e, uint64_t*, RestoreProgress*) { at_open = e->map(); });
  auto scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    std::mt19937_64 rng(42);
    uint64_t tid = 5;
    while (!stop) {
      store.Write([&](StateEdit* e, uint64_t* applied, RestoreProgress*) {
        std::string k = Key(rng() % 42000);
        ++tid;
        if (rng() % 4 == 0) e->Erase(k); else e->Put(std::string(k), "later", tid);
        *applied = tid;
      });
      writes++;
    }
  });
  ExtentHeader h;
  h.tid = scan->tid();
  Status s = WriteExtent(Env::Default(), dir.path(), h, *scan);
  stop = true;
  writer.join();
  REQUIRE(s.ok());
  ExtentHeader read_h;
  StateMap read;
  REQUIRE(ReadExtent(Env::Default(), dir / kExtentFileName, &read_h, &read).ok());
  CHECK(read_h.keys == 20000);
  CHECK(Same(read, at_open));
  MESSAGE("writes during the extent write: " << writes.load());
}

}  // namespace
}  // namespace tranship
