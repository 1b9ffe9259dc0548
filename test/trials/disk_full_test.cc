// Disk full with real processes and a real small file system: a tmpfs with a size
// mounted over the primary's tranlog directory, then over a standby's archive. Under a
// commit load the disk fills; then space is freed. The invariants:
//  - primary full: commits fail with a clear error and nothing is acknowledged that is
//    not durable; the stone keeps running and takes commits again once space returns;
//  - archive full: the receiver stops acknowledging, says so in its log, keeps its
//    connection or reconnects, and once space returns catches up with no gap and no
//    damage;
//  - in both, every acknowledged commit is on the primary and on the standby, whose
//    digest equals the primary's, and the archive is the tail of the primary's tranlogs.
//
// Mounting needs root (CI runs as root); run by anyone else the binary skips (exit 77,
// test/needs_root.h).

#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "test/needs_root.h"
#include "test/shipping/cluster.h"
#include "test/trials/trial.h"

namespace tranship::test {

const char* const kNeedsRoot = "the disk-full trials mount a size-limited tmpfs";

namespace {

// A tmpfs of `size` mounted over `dir`, keeping what `dir` held; lazily unmounted at the
// end (processes may still hold files open there).
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& size) : dir_(dir) {
    std::string keep = dir + ".before-mount";
    std::filesystem::rename(dir, keep);
    std::filesystem::create_directories(dir);
    std::string opts = "size=" + size + ",mode=0700";
    REQUIRE_MESSAGE(mount("tranship-test", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0,
                    "mount tmpfs on " << dir << ": " << std::strerror(errno));
    mounted_ = true;
    for (auto& e : std::filesystem::directory_iterator(keep)) {
      std::filesystem::copy(e.path(), dir / e.path().filename(),
                            std::filesystem::copy_options::recursive);
    }
    std::filesystem::remove_all(keep);
  }
  ~TmpfsMount() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  // Fills the file system up to `leave` free bytes with a file that Free() removes.
  void Fill(uint64_t leave) {
    std::string filler = dir_ / "filler";
    FILE* f = std::fopen(filler.c_str(), "a");
    REQUIRE(f != nullptr);
    std::string chunk(4096, 'f');
    while (std::filesystem::space(dir_).available > leave + chunk.size()) {
      REQUIRE(std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size());
      std::fflush(f);
    }
    std::fclose(f);
  }
  void Free() { std::filesystem::remove(dir_ / "filler"); }
  uint64_t Available() const { return std::filesystem::space(dir_).available; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

// Primary `prod`, standby `standby` seeded from it in continuous restore, a sender and a
// receiver over TLS.
struct Pair {
  Cluster c{1};
  pid_t sender = 0;
  pid_t receiver = 0;
  void Start() {
    sender = c.StartSender("prod", c.SenderTls());
    receiver = c.StartReceiver(0, "standby", c.ReceiverTls());
  }
  // Every acknowledged commit of each run on both stones, equal digests, the archive
  // the tail of the primary's tranlogs.
  void Check(const std::vector<std::pair<std::string, std::string>>& runs) {
    std::string primary = Digest(c.primary(), "prod");
    INFO("receiver log:\n" << c.ReceiverLog(0, "standby"));
    REQUIRE(WaitFor([&] { return Digest(c.standby(0), "standby") == primary; }, kConverge));
    std::string why;
    INFO(why);
    REQUIRE(WaitFor([&] {
      return ArchiveIsTailOf(c.standby(0).Path("archive"), c.primary().Path("data/prod/tranlog"), &why);
    }, kConverge));
    for (auto& [ack, prefix] : runs) {
      for (auto [host, stone] : {std::pair{&c.primary(), "prod"}, std::pair{&c.standby(0), "standby"}}) {
        Proc p = host->Run({"workload", stone, "--check", ack, "--keys-per-txn", "2",
                            "--key-prefix", prefix});
        INFO(stone << ": " << p.out);
        REQUIRE(p.code == 0);
      }
    }
  }
};

TEST_CASE("DiskFullOnThePrimaryTranlogDirectoryFailsCommitsUntilSpaceReturns") {
  Pair t;
  Cluster& c = t.c;
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  Ok(c.primary(), {"stone", "stop", "prod"});
  TmpfsMount disk(c.primary().Path("data/prod/tranlog"), "4m");
  Ok(c.primary(), {"stone", "start", "prod"});
  t.Start();
  Ok(c.primary(), {"put", "prod", "before", "full"});
  disk.Fill(256 << 10);

  // The load runs into the full disk: its writers stop at their first error.
  std::string ack1 = c.Temp("ack-1");
  pid_t load = StartWorkload(c, ack1, 600, "r1");
  REQUIRE(waitpid(load, nullptr, 0) == load);
  std::string out = ReadAll(c.Temp("workload-r1.out"));
  INFO(out);
  CHECK(out.find("No space left on device") != std::string::npos);
  CHECK(Acks(ack1) > 0);
  // A write that needs more room than is left (100 KiB) fails with one clear line.
  disk.Fill(0);
  Proc put = c.primary().Run({"put", "prod", "while", std::string(100 << 10, 'x')});
  CHECK(put.code != 0);
  CHECK(put.out.find("nothing was written") != std::string::npos);
  CHECK(std::count(put.out.begin(), put.out.end(), '\n') == 1);  // one line
  // The stone still runs and serves reads.
  Ok(c.primary(), {"get", "prod", "before"});

  disk.Free();
  Ok(c.primary(), {"put", "prod", "after", "free"});
  std::string ack2 = c.Temp("ack-2");
  pid_t load2 = StartWorkload(c, ack2, 2, "r2");
  REQUIRE(waitpid(load2, nullptr, 0) == load2);
  CHECK(Acks(ack2) > 0);
  t.Check({{ack1, "r1"}, {ack2, "r2"}});
  MESSAGE("primary disk full: " << Acks(ack1) << " commits acknowledged before the disk "
                                << "filled, " << Acks(ack2) << " after space returned, 0 lost");
}

TEST_CASE("DiskFullOnAReceiverArchiveStopsAcknowledgingAndResumesWithoutLoss") {
  Pair t;
  Cluster& c = t.c;
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  TmpfsMount disk(c.standby(0).Path("archive"), "4m");
  t.Start();
  disk.Fill(256 << 10);

  // More than the archive can hold arrives; the receiver stops at the full disk.
  std::string ack = c.Temp("ack-1");
  pid_t load = StartWorkload(c, ack, 600, "r1");
  REQUIRE(WaitFor([&] { return c.ReceiverLog(0, "standby").find("disk full") != std::string::npos; },
                  kConverge));
  // The primary is unaffected: its writers keep committing.
  size_t at_full = Acks(ack);
  REQUIRE(WaitFor([&] { return Acks(ack) > at_full + 1000; }, kConverge));
  Cluster::KillNine(load);
  std::string standby_before = Digest(c.standby(0), "standby");
  CHECK(standby_before != Digest(c.primary(), "prod"));  // it is behind

  disk.Free();
  t.Check({{ack, "r1"}});
  std::string log = c.ReceiverLog(0, "standby");
  CHECK(log.find("no space") != std::string::npos);
  MESSAGE("archive disk full: " << Acks(ack) << " commits acknowledged on the primary, all on "
                                << "the standby after space returned, 0 lost");
}

}  // namespace
}  // namespace tranship::test
