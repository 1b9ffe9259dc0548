// No committed value crosses a -S link in the clear. A recording tap relays the link
// between a real logsender and a real logreceiver; a random, incompressible canary value
// is committed on the primary. The control: over a plaintext link the tap sees the
// canary (zstd stores incompressible bytes as they are), which proves the tap would
// catch it. Over TLS the tap sees none of it, while the archive still receives it.

#include <random>

#include "test/security/hostile_peer.h"

namespace tranship::test {
namespace {

// 32 KiB of random bytes 1..255 (a command-line argument cannot hold NUL).
std::string Canary() {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::string v(32 << 10, '\0');
  for (char& ch : v) ch = static_cast<char>(1 + rng() % 255);
  v[0] = 'c';  // a value given on the command line must not look like an option
  return v;
}

// How many of the value's 24-byte windows (taken every 1 KiB) appear in `hay`.
int WindowsSeen(const std::string& hay, const std::string& value) {
  int n = 0;
  for (size_t at = 0; at + 24 <= value.size(); at += 1024) {
    n += hay.find(value.substr(at, 24)) != std::string::npos;
  }
  return n;
}

// Ships a canary through a tap; returns what the tap recorded.
std::string ShipThroughTap(bool tls, const std::string& canary) {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod", tls ? c.SenderTls() : std::vector<std::string>{});
  Tap tap(c.port());
  ChildGuard receiver{SpawnReceiver(c.standby(0), tap.port(), "standby", c.Temp("receiver.out"),
                                    tls ? c.ReceiverTls() : std::vector<std::string>{})};
  auto log = [&] { return ReceiverLogAt(c.standby(0), tap.port(), "standby"); };
  REQUIRE_MESSAGE(EventuallyHas(log, "streaming"), log());
  Proc put = c.primary().Run({"put", "prod", "canary", canary});
  REQUIRE_MESSAGE(put.code == 0, put.out);
  ExpectArchiveConverges(c, log);
  // The archive holds the value: it did travel through the tap.
  std::string archived;
  for (auto& e : std::filesystem::directory_iterator(c.standby(0).Path("archive"))) {
    archived += ReadAll(e.path());
  }
  CHECK(WindowsSeen(archived, canary) == 32);
  return tap.Recorded();
}

}  // namespace

TEST_CASE("ACanaryValueIsSeenOnAPlaintextLinkAndNeverOnATlsLink") {
  const std::string canary = Canary();
  std::string plain = ShipThroughTap(false, canary);
  std::string tls = ShipThroughTap(true, canary);
  MESSAGE("tap recorded " << plain.size() << " bytes plaintext, " << tls.size() << " bytes TLS");
  // The control: most of the value is visible to a tap on a plaintext link.
  CHECK(WindowsSeen(plain, canary) >= 24);
  // Over TLS no 24-byte piece of it is, although as many bytes crossed.
  CHECK(tls.size() > canary.size());
  CHECK(WindowsSeen(tls, canary) == 0);
}

}  // namespace tranship::test
