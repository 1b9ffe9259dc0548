// TLS refusals at a real logsender started with -S, from clients an attacker (or a
// misconfigured standby) would bring: `openssl s_client` without a certificate, with an
// expired one, one from another CA, a self-signed one, and offering only TLS 1.1. Each
// is refused before it becomes a protocol peer, and the sender's log says why, one
// refusal per attempt. A proper receiver is served afterwards.

#include <cstdlib>

#include "test/security/hostile_peer.h"

namespace tranship::test {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// Runs `openssl s_client` against 127.0.0.1:port with `flags`, stdin closed so that it
// ends after the handshake; returns its output.
std::string SClient(Cluster& c, int port, const std::string& flags) {
  std::string out = c.Temp("s_client.out");
  std::string cmd = "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " " + flags +
                    " </dev/null >" + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  (void)rc;  // s_client's exit code varies with where the refusal lands; the log decides
  return ReadAll(out);
}

}  // namespace

TEST_CASE("TlsClientsTheLogsenderRefusesEachWithAReason") {
  Cluster c(1);
  c.receivers_from_start = true;  // no standby stone here
  c.StartStone(c.primary(), "prod");
  std::string certs = c.Certs();
  c.StartSender("prod", c.SenderTls());
  REQUIRE(SenderListens(c));
  const std::string ca = " -CAfile " + certs + "/ca.pem";
  auto with = [&](const std::string& name) {
    return ca + " -cert " + certs + "/" + name + ".pem -key " + certs + "/" + name + ".key";
  };
  struct Case {
    const char* what;
    std::string flags;
    const char* reason;  // in the sender's log line for the refusal
  };
  const std::vector<Case> cases = {
      {"no certificate", ca, "sent no certificate"},
      {"an expired certificate", with("expired-client"), "certificate expired"},
      {"a certificate from another CA", with("other-client"), "is not signed by a CA"},
      {"a self-signed certificate", with("selfsigned"), "is self-signed"},
      {"TLS 1.1 only", with("client") + " -tls1_1 -cipher DEFAULT@SECLEVEL=0",
       "protocol version too old"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.what);
    size_t before = Count(c.SenderLog(), "refused a connection");
    std::string out = SClient(c, c.port(), k.flags);
    INFO("s_client: " << out);
    bool logged = WaitFor([&] { return Count(c.SenderLog(), "refused a connection") > before; },
                          std::chrono::seconds(20));
    INFO("sender log: " << c.SenderLog());
    REQUIRE(logged);
    std::string log = c.SenderLog();
    // The refusal line of this attempt is the last one and names the reason.
    std::string last = log.substr(log.rfind("refused a connection"));
    last = last.substr(0, last.find('\n'));
    CHECK_MESSAGE(last.find(k.reason) != std::string::npos, last);
  }
  // None of them got as far as the shipping protocol.
  CHECK(c.SenderLog().find("startup ->") == std::string::npos);
  // A proper receiver is still served.
  c.StartReceiver(0, "standby", c.ReceiverTls());
  Proc w = c.primary().Run({"put", "prod", "k", "v"});
  REQUIRE_MESSAGE(w.code == 0, w.out);
  CHECK(EventuallyHas([&] { return c.ReceiverLog(0, "standby"); }, "streaming"));
}

}  // namespace tranship::test
