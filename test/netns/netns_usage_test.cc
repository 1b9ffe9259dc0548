// What of test/netns/netns-cluster needs no root: its usage, and that without root it
// refuses in one line and makes nothing. Run by root, the refusal is checked as the user
// nobody; by anyone else, as that user. The rest needs root (netns_test.cc).

#include <pwd.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "test/netns/netns_script.h"

namespace tranship::test {

TEST_CASE("NetnsClusterScriptUsageAndRootCheck") {
  Proc help = RunScript({"-h"});
  CHECK(help.code == 0);
  CHECK(help.out.starts_with("Usage: netns-cluster "));
  Proc bad = RunScript({"frobnicate"});
  CHECK(bad.code == 2);
  CHECK(bad.out.starts_with("Usage: netns-cluster "));

  // Not root: one line saying so, exit 1, nothing made.
  const passwd* as = nullptr;
  if (geteuid() == 0) {
    as = getpwnam("nobody");
    REQUIRE(as != nullptr);
  }
  Proc denied = RunScript({"up", "-i", "denied"}, as);
  CHECK(denied.code == 1);
  CHECK(denied.out == "netns-cluster: needs root (namespaces, tc and nft need CAP_NET_ADMIN); run it with sudo\n");
  CHECK(!NamespaceExists("tranship-denied-switch"));
}

}  // namespace tranship::test
