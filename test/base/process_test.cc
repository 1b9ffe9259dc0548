// base/process.h and base/file_lock.h: a process whose main thread is a zombie while
// another thread still holds its lock is dying, not gone, and a lock it holds is waited
// for rather than refused.

#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <doctest/doctest.h>

#include "base/file_lock.h"
#include "base/log.h"
#include "base/process.h"
#include "test/dying_holder.h"
#include "test/test_util.h"

namespace tranship::test {

TEST_CASE("AProcessWhoseMainThreadExitedIsDyingUntilItsLastThreadEnds") {
  TempDir dir;
  DyingHolder holder(dir / "lock");
  CHECK(InspectProcess(holder.pid()) == ProcessState::kDying);
  CHECK_FALSE(ProcessAlive(holder.pid()));  // its main thread is a zombie...
  CHECK_FALSE(ProcessGone(holder.pid()));   // ...but it still holds the lock
  CHECK(Env::Default()->LockFile(dir / "lock").status().code() == Status::Code::kBusy);
  holder.Release();
  CHECK(ProcessGone(holder.pid()));
  CHECK(Env::Default()->LockFile(dir / "lock").ok());
}

TEST_CASE("ThisProcessIsAliveAndAnUnusedPidIsGone") {
  CHECK(InspectProcess(getpid()) == ProcessState::kAlive);
  CHECK(ProcessAlive(getpid()));
  CHECK(ProcessGone(0));
  CHECK(ProcessGone(999999999));
}

TEST_CASE("AcquireLockWaitsForADyingHolderAndSaysSo") {
  TempDir dir;
  REQUIRE(LogInit(dir / "log", LogLevel::kInfo).ok());
  DyingHolder holder(dir / "lock");
  Result<std::unique_ptr<FileLock>> got = Status::Aborted("not yet");
  std::jthread taker([&] { got = AcquireLock(Env::Default(), dir / "lock"); });
  // Released only once the taker has said that it waits: it must not have given up.
  REQUIRE(WaitFor([&] { return ReadAll(dir / "log").find("still exiting") != std::string::npos; }));
  CHECK(ReadAll(dir / "log").find("held by pid " + std::to_string(holder.pid())) !=
        std::string::npos);
  holder.Release();
  taker.join();
  INFO(got.status().ToString());
  CHECK(got.ok());
  CHECK(ReadAll(dir / "log").find("let go of") != std::string::npos);
  REQUIRE(LogInit("", LogLevel::kInfo).ok());
}

TEST_CASE("AcquireLockGivesUpOnADyingHolderThatNeverLetsGo") {
  TempDir dir;
  DyingHolder holder(dir / "lock");
  Result<std::unique_ptr<FileLock>> got = AcquireLock(Env::Default(), dir / "lock", 50);
  CHECK(got.status().code() == Status::Code::kBusy);
  CHECK(got.status().message().find("has not finished exiting") != std::string::npos);
}

TEST_CASE("AcquireLockRefusesALiveHolderAtOnce") {
  TempDir dir;
  int go[2];
  REQUIRE(pipe(go) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto lock = Env::Default()->LockFile(dir / "lock");
    char c;
    (void)!read(go[0], &c, 1);
    _exit(lock.ok() ? 0 : 1);
  }
  REQUIRE(WaitFor([&] { return ReadAll(dir / "lock") == std::to_string(child) + "\n"; }));
  // A wait of a minute would show as a hung test: a live holder is refused at once.
  Result<std::unique_ptr<FileLock>> got = AcquireLock(Env::Default(), dir / "lock", 60000);
  CHECK(got.status().code() == Status::Code::kBusy);
  CHECK(got.status().message().find("locked by another process (pid " + std::to_string(child)) !=
        std::string::npos);
  (void)!write(go[1], "g", 1);
  int st = 0;
  REQUIRE(waitpid(child, &st, 0) == child);
  CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
}

}  // namespace tranship::test
