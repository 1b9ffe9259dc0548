#pragma once
// The pieces `tranship failover` is made of: stones named by home (HOME:STONE), one
// timed step at a time on the operator's screen, and the admin calls the steps make.
// docs/standby.md describes the procedure; failover/planned.cc and failover/emergency.cc
// run it.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/json_parse.h"
#include "client/client.h"
#include "home/home.h"

namespace tranship::failover {

using home::Home;

// A stone this host reaches through its TRANSHIP_HOME: "HOME:STONE", or "STONE" for the
// stone of the current home.
struct StoneRef {
  Home home;
  std::string name;
  bool other_home = false;  // HOME was given and differs from the current home

  // "TRANSHIP_HOME=/srv/b tranship ARGS" (or "tranship ARGS" for the current home): the
  // command an operator runs to act on this stone.
  std::string Command(const std::string& args) const;
  // "standby1 (/srv/b)".
  std::string Label() const;

  Result<std::unique_ptr<StoneClient>> Connect() const;
  // One admin verb on a fresh connection; the reply text.
  Result<std::string> Admin(const std::string& verb, const std::vector<std::string>& args = {}) const;
  Result<StoneInfo> Info() const;
  // restore-status --json, parsed.
  Result<JsonValue> RestoreStatus() const;
  // admin digest: "tid N keys K sha256 H".
  Result<std::string> Digest() const;
};

// InvalidArgument naming `option` if `spec` is not HOME:STONE or STONE, or the stone does
// not exist in that home.
Result<StoneRef> ParseStoneRef(const std::string& option, const std::string& spec,
                               const Home& current);

// "4.1 ms", "2.35 s".
std::string FormatDuration(uint64_t ns);

// Prints each step as it runs: "  suspend-commits on prod ... " and, once done, its
// duration and a short result. A failed step ends the line with "failed" and its
// Status goes back to the caller, who adds where things stand and what to do next.
class Steps {
 public:
  Steps();
  // Runs fn; its text (may be empty) follows the duration. `progress` lets a long step
  // redraw its line on a terminal (ignored elsewhere).
  using Progress = std::function<void(const std::string&)>;
  Result<std::string> Run(const std::string& title,
                          const std::function<Result<std::string>(const Progress&)>& fn);
  // A step that had nothing to do: "  stop the logreceiver ... skipped: no logreceiver runs".
  void Skip(const std::string& title, const std::string& why);

 private:
  bool tty_;
};

// Stops the logreceivers this host runs for `stone` (in its home; only the one on
// `port` if non-zero) the way stoplogreceiver does, then waits until the stone sees
// no logreceiver logged in. Returns what it stopped ("" if none ran).
Result<std::string> StopReceiversOf(const StoneRef& stone, uint64_t port, int timeout_s);

// Commits KEY = "WHY at TIME" on `stone`: the first write the new primary accepts.
Result<std::string> ProbeWrite(const StoneRef& stone, const std::string& key,
                               const std::string& why);
// The step after commit-restore: with a `key`, the probe write on `stone` (ProbeWrite),
// whose time goes to *accepting. Returns where the failover time ends ("to the first
// write accepted on ..." or, without a key, "to commit-restore returning ..."); a failed
// probe write is Busy, saying that `stone` left restore mode.
Result<std::string> ProbeStep(Steps& steps, const StoneRef& stone, const std::string& key,
                              const std::string& why, uint64_t* accepting);
// The part of commit-restore's reply that names the new lineage.
std::string NewLineage(const std::string& reply);

// Polls every 20 ms until fn returns true (done) or an error, or `timeout_s` passes
// (TimedOut with `what`).
Status PollUntil(int timeout_s, const std::function<Result<bool>()>& fn);

}  // namespace tranship::failover
