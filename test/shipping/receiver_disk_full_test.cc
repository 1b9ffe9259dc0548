// A receiver's archive directory fills up: a size-limited tmpfs mounted over it. The
// receiver says `disk full` in its log and stops acknowledging; once space is freed it
// catches up, and its archive is byte-identical to the primary's tranlogs. Mounting needs
// root (CI runs as root); run by anyone else the binary skips (exit 77,
// test/needs_root.h).

#include <sys/mount.h>

#include <filesystem>
#include <fstream>

#include "test/needs_root.h"
#include "test/shipping/cluster.h"
#include "test/shipping/shipping_checks.h"

namespace tranship::test {

const char* const kNeedsRoot = "the receiver's archive is a size-limited tmpfs it mounts";

TEST_CASE("ReceiverDiskFullThenFreed") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  std::string archive = c.standby(0).Path("archive");
  std::filesystem::create_directories(archive);
  REQUIRE(mount("tmpfs", archive.c_str(), "tmpfs", 0, "size=3m,mode=0700") == 0);
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{archive};
  // Leave about 300 KB free.
  {
    std::ofstream filler(archive + "/filler", std::ios::binary);
    std::string mb(1 << 20, 'x');
    filler.write(mb.data(), static_cast<std::streamsize>(mb.size()));
    filler.write(mb.data(), static_cast<std::streamsize>(mb.size()));
    filler.write(mb.data(), static_cast<std::streamsize>(mb.size() - 300 * 1024));
  }
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  Workload(c, "prod", 6000);  // about 1 MB of tranlog
  CHECK(LogHas([&] { return c.ReceiverLog(0, "standby"); }, "disk full"));
  std::filesystem::remove(archive + "/filler");
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0});
}

}  // namespace tranship::test
