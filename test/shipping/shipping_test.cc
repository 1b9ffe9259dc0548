// End-to-end shipping: a real stone, a real logsender and real logreceivers over
// loopback, with and without TLS. Each test ends by proving the invariant that matters:
// the standby archives are byte-identical to the primary's tranlogs (no gap, no
// duplicate, nothing invented), and `tranship tranlog verify` accepts them.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>

#include "base/json_parse.h"
#include "test/shipping/cluster.h"
#include "test/shipping/shipping_checks.h"

namespace tranship::test {

TEST_CASE("OneReceiverOverTlsGetsByteIdenticalArchives") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod", c.SenderTls());
  c.StartReceiver(0, "standby", c.ReceiverTls());
  Workload(c, "prod", 1500);
  REQUIRE(c.primary().Run({"admin", "prod", "start-new-log"}).code == 0);
  Workload(c, "prod", 1500);
  // While running, status lists the sender with its receiver.
  CHECK(LogHas([&] { return c.primary().Run({"status"}).out; }, "logsender"));
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0});
  CHECK(c.SenderLog().find("TLS") != std::string::npos);
}

TEST_CASE("UncompressedFramesMakeTheSameArchives") {
  // --zstd-level off, for a link faster than zstd: the receiver takes frames as they
  // are; a level zstd does not have is refused before anything starts.
  Cluster c(1);
  c.receivers_from_start = true;
  c.StartStone(c.primary(), "prod");
  Proc bad = c.primary().Run({"logsender", "start", "-P", "1", "-A", c.address, "-T",
                              PrimaryTranlogs(c, "prod"), "-s", "prod", "--zstd-level", "0"});
  CHECK(bad.code != 0);
  CHECK(bad.out.find("--zstd-level '0'") != std::string::npos);
  c.StartSender("prod", {"--zstd-level", "off"});
  c.StartReceiver(0, "standby");
  Workload(c, "prod", 800);
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0});
  CHECK(c.SenderLog().find("frames uncompressed") != std::string::npos);
  // Every frame the receiver archived went as it is (the status file, rewritten each
  // second, catches up with the last ones).
  const std::string status =
      c.primary().Path("run/logsender-" + std::to_string(c.port()) + ".status");
  CHECK(WaitFor([&] {
    Result<tranship::JsonValue> j = tranship::ParseJson(ReadAll(status));
    return j.ok() && j->Uint("frames_built") > 0 &&
           j->Uint("frames_uncompressed") == j->Uint("frames_built");
  }, std::chrono::seconds(5)));
}

TEST_CASE("FiveReceiversAndTheSixthIsRefused") {
  Cluster c(6);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod");
  for (int i = 0; i < 5; i++) c.StartReceiver(i, "standby");
  Workload(c, "prod", 500);
  // All five stream: each has acknowledged something.
  for (int i = 0; i < 5; i++) {
    CHECK(LogHas([&] { return c.ReceiverLog(i, "standby"); }, "streaming"));
  }
  c.StartReceiver(5, "standby");
  CHECK(LogHas([&] { return c.ReceiverLog(5, "standby"); }, "5 logreceivers"));
  CHECK(LogHas([&] { return c.SenderLog(); }, "5 logreceivers"));
  Workload(c, "prod", 500);
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0, 1, 2, 3, 4});
  CHECK(SameTranlogs(PrimaryTranlogs(c, "prod"), c.standby(5).Path("archive")) == false);
}

TEST_CASE("KillNineOfSenderAndReceiverMidStream") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  pid_t sender = c.StartSender("prod", c.SenderTls());
  pid_t receiver = c.StartReceiver(0, "standby", c.ReceiverTls());
  pid_t load = c.primary().Spawn({"workload", "prod", "--writers", "4", "--seconds", "4",
                                  "--keys-per-txn", "2", "--ack-log", c.Temp("acks")},
                                 c.Temp("workload.out"));
  auto acks = [&] { return CountLinesOf(c.Temp("acks")); };
  REQUIRE(WaitFor([&] { return acks() > 500; }, kConverge));
  Cluster::KillNine(sender);
  sender = c.StartSender("prod", c.SenderTls());
  REQUIRE(WaitFor([&] { return acks() > 2000; }, kConverge));
  Cluster::KillNine(receiver);
  receiver = c.StartReceiver(0, "standby", c.ReceiverTls());
  int st = 0;
  waitpid(load, &st, 0);
  CHECK(WEXITSTATUS(st) == 0);
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0});
}

TEST_CASE("StoneRestartedUnderARunningSender") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  Workload(c, "prod", 300);
  StopStone(c, "prod");
  REQUIRE(c.primary().Run({"stone", "start", "prod"}).code == 0);
  Workload(c, "prod", 300);
  StopStone(c, "prod");
  REQUIRE(c.primary().Run({"stone", "start", "prod"}).code == 0);
  Workload(c, "prod", 300);
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0});
}

TEST_CASE("TlsRefusals") {
  Cluster c(5);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod", c.SenderTls());
  Workload(c, "prod", 50);
  SUBCASE("a client certificate from another CA") {
    c.StartReceiver(0, "standby", c.ReceiverTls("other-client"));
    CHECK(LogHas([&] { return c.SenderLog(); }, "the logreceiver's certificate is not signed by a CA"));
    CHECK(LogHas([&] { return c.ReceiverLog(0, "standby"); }, "refused this end's certificate"));
  }
  SUBCASE("the receiver does not trust the sender's CA") {
    c.StartReceiver(1, "standby", c.ReceiverTls("client", "other-ca"));
    CHECK(LogHas([&] { return c.ReceiverLog(1, "standby"); },
                 "the logsender's certificate is not signed by a CA"));
  }
  SUBCASE("a self-signed client certificate") {
    c.StartReceiver(2, "standby", c.ReceiverTls("selfsigned"));
    CHECK(LogHas([&] { return c.SenderLog(); }, "the logreceiver's certificate is self-signed"));
  }
  SUBCASE("an expired client certificate") {
    c.StartReceiver(4, "standby", c.ReceiverTls("expired-client"));
    CHECK(LogHas([&] { return c.SenderLog(); }, "the logreceiver's certificate expired"));
  }
  SUBCASE("a plaintext receiver") {
    c.StartReceiver(3, "standby");
    CHECK(LogHas([&] { return c.ReceiverLog(3, "standby"); }, "requires TLS"));
    CHECK(LogHas([&] { return c.SenderLog(); }, "sent plaintext to this TLS logsender"));
  }
  // No refused receiver ever wrote a tranlog.
  for (int i = 0; i < 5; i++) {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(c.standby(i).Path("archive"), ec)) {
      FAIL("a refused receiver wrote " << e.path());
    }
  }
}

TEST_CASE("TlsReceiverAgainstAPlaintextSender") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod");
  c.StartReceiver(0, "standby", c.ReceiverTls());
  CHECK(LogHas([&] { return c.ReceiverLog(0, "standby"); }, "does not speak TLS"));
  CHECK(LogHas([&] { return c.SenderLog(); }, "tried TLS"));
}

TEST_CASE("GarbageOnTheSenderPortClosesOnlyThatLink") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  Workload(c, "prod", 200);
  REQUIRE(LogHas([&] { return c.ReceiverLog(0, "standby"); }, "streaming"));
  for (std::string junk : {std::string("\xff\xff\xff\xff\x01garbage", 12),
                           std::string("GET / HTTP/1.0\r\n\r\n")}) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(c.port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(write(fd, junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
    char b[256];
    // The sender closes the connection (read returns 0 or an error, never hangs).
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (read(fd, b, sizeof(b)) > 0) {
    }
    close(fd);
  }
  Workload(c, "prod", 200);
  StopStone(c, "prod");
  ExpectConverged(c, "prod", {0});
}

}  // namespace tranship::test

namespace tranship::test {

TEST_CASE("ALiteralPassphraseNeverAppearsOnTheDaemonsCommandLine") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  std::string certs = c.Certs();
  std::string pass = ReadAll(certs + "/passphrase.txt");
  while (!pass.empty() && (pass.back() == '\n' || pass.back() == '\r')) pass.pop_back();
  REQUIRE_FALSE(pass.empty());
  // startlogsender as a daemon (not --foreground), with the passphrase itself after -Q.
  Proc start = c.primary().Run(
      {"-P", std::to_string(c.port()), "-A", "127.0.0.1", "-T",
       c.primary().Path("data/prod/tranlog"), "-s", "prod", "-S", "-J", certs + "/ca.pem", "-C",
       certs + "/server.pem", "-K", certs + "/server-encrypted.key", "-Q", pass},
      "startlogsender");
  REQUIRE_MESSAGE(start.code == 0, start.out);
  pid_t sender = c.primary().PidOf("logsender-" + std::to_string(c.port()) + ".pid");
  REQUIRE(sender > 0);
  std::string cmdline = ReadAll("/proc/" + std::to_string(sender) + "/cmdline");
  CHECK(cmdline.find("logsender") != std::string::npos);
  CHECK(cmdline.find(pass) == std::string::npos);
  // The daemon still unlocked its key: a receiver streams from it.
  c.StartReceiver(0, "standby", c.ReceiverTls());
  Workload(c, "prod", 100);
  CHECK(LogHas([&] { return c.ReceiverLog(0, "standby"); }, "streaming"));
  CHECK(c.SenderLog().find(pass) == std::string::npos);
  c.primary().Run({"-P", std::to_string(c.port())}, "stoplogsender");
}

}  // namespace tranship::test
