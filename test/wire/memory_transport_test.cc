// MemoryPipe: the in-memory transport the daemon tests run on. It must behave like a
// socket: callbacks from the loop (never inside the caller's Write/Close), bytes in
// order, back-pressure against a paused reader, Close() after delivery, on_closed once
// on each end, and the transport destroyable inside its on_closed.

#include <doctest/doctest.h>

#include "test/wire/transport_harness.h"

namespace tranship::wire::test {
namespace {

struct Pipe {
  explicit Pipe(Loop& loop) {
    auto [x, y] = MemoryPipe(loop.get());
    a.t = std::move(x);
    b.t = std::move(y);
    a.Start();
    b.Start();
  }
  Endpoint a, b;
};

TEST_CASE("MemoryPipeCarriesBytesBothWaysFromTheLoop") {
  Loop loop;
  Pipe p(loop);
  bool in_write = false;
  p.b.on_data_hook = [&](std::string_view) { CHECK_FALSE(in_write); };
  in_write = true;
  p.a.t->Write(std::string("one "));
  p.a.t->Write(std::string("two"));
  in_write = false;
  CHECK(p.b.data.empty());
  CHECK_FALSE(p.a.ready);  // on_ready comes from the loop too
  REQUIRE(loop.RunUntil([&] { return p.b.data == "one two"; }));
  CHECK(p.a.ready);
  CHECK(p.b.ready);
  p.b.t->Write(std::string("back"));
  REQUIRE(loop.RunUntil([&] { return p.a.data == "back"; }));
  CHECK(p.a.t->QueuedBytes() == 0);
}

TEST_CASE("MemoryPipeSharesBuffersWithoutCopying") {
  Loop loop;
  Pipe p(loop);
  auto buf = std::make_shared<const std::string>(1000, 'x');
  const char* seen = nullptr;
  p.b.on_data_hook = [&](std::string_view v) { seen = v.data(); };
  p.a.t->Write(buf);
  REQUIRE(loop.RunUntil([&] { return seen != nullptr; }));
  CHECK(seen == buf->data());
}

TEST_CASE("MemoryPipeBackPressure") {
  Loop loop;
  Pipe p(loop);
  p.b.t->PauseReading();
  auto mib = std::make_shared<const std::string>(1 << 20, 'm');
  int n = 0;
  while (p.a.t->Write(mib)) n++;
  CHECK(n == 3);  // the fourth MiB reaches kWriteHighWater
  CHECK(p.a.t->QueuedBytes() == 4u << 20);
  loop.RunUntil([] { return false; }, std::chrono::milliseconds(30));
  CHECK(p.a.writable == 0);
  CHECK(p.b.data.empty());
  p.b.t->ResumeReading();
  REQUIRE(loop.RunUntil([&] { return p.a.writable == 1; }));
  CHECK(p.b.data.size() == 4u << 20);
}

TEST_CASE("MemoryPipeCloseDeliversThenClosesBothEnds") {
  Loop loop;
  Pipe p(loop);
  p.a.t->Write(std::string("last words"));
  p.a.t->Close(Status::Aborted("stopping"));
  CHECK(p.a.closed_count == 0);
  p.a.t->Write(std::string("dropped"));
  p.b.destroy_on_close = true;
  REQUIRE(loop.RunUntil([&] { return p.a.closed && p.b.closed; }));
  CHECK(p.b.data == "last words");
  CHECK(p.a.reason() == "stopping");
  CHECK(p.b.reason() == "the peer closed the connection");
  CHECK(p.b.t == nullptr);
  loop.RunUntil([] { return false; }, std::chrono::milliseconds(20));
  CHECK(p.a.closed_count == 1);
  CHECK(p.b.closed_count == 1);
}

TEST_CASE("MemoryPipeEndDestroyedTellsTheOther") {
  Loop loop;
  Pipe p(loop);
  p.a.t.reset();
  REQUIRE(loop.RunUntil([&] { return p.b.closed.has_value(); }));
  CHECK(p.b.reason().find("gone") != std::string::npos);
}

}  // namespace
}  // namespace tranship::wire::test
