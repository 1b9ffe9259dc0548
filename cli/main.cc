// The tranship command: dispatch, help, and the GemStone-style aliases. The binary is
// multi-call: invoked as startstone, stopstone or copydbf it rewrites its arguments to
// the tranship command they stand for.

#include <unistd.h>

#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/env.h"
#include "cli/commands.h"

namespace tranship::cli {
namespace {

const Command kCommands[] = {
    {"stone create", "create a stone: its configuration, extent and first tranlog",
     {"tranship stone create NAME [--from-backup FILE]", 1, 1, {}, {"--from-backup"}},
     StoneCreate},
    {"stone list", "list the stones of this home",
     {"tranship stone list", 0, 0, {}, {}}, StoneList},
    {"stone start", "start a stone (-R: in restore mode); alias startstone",
     {"tranship stone start NAME [-R]", 1, 1, {"-R"}, {}}, StoneStart},
    {"stone stop", "stop a stone cleanly (checkpoint); alias stopstone",
     {"tranship stone stop NAME", 1, 1, {}, {}}, StoneStop},
    {"stone restart", "stop a stone if it runs, then start it",
     {"tranship stone restart NAME [-R]", 1, 1, {"-R"}, {}}, StoneRestart},
    {"stone destroy", "delete a stopped stone: configuration and data (the log stays)",
     {"tranship stone destroy NAME", 1, 1, {}, {}}, StoneDestroy},
    {"stone snapshot", "copy the repository aside (stops and restarts a running stone)",
     {"tranship stone snapshot NAME", 1, 1, {}, {}}, StoneSnapshot},
    {"stone restore-snapshot", "put the snapshot back in place of the repository",
     {"tranship stone restore-snapshot NAME", 1, 1, {}, {}}, StoneRestoreSnapshot},
    {"stone serve", "run a stone in this process (what startstone launches)",
     {"tranship stone serve NAME [-R] [--foreground] [--notify-fd FD]", 1, 1,
      {"-R", "--foreground"}, {"--notify-fd"}},
     StoneServe, true},
    {"status", "show every stone and daemon of this home",
     {"tranship status [--json]", 0, 0, {"--json"}, {}}, StatusCommand},
    {"put", "write KEY = VALUE in one transaction",
     {"tranship put NAME KEY VALUE", 3, 3, {}, {}}, PutCommand},
    {"get", "print the value of KEY",
     {"tranship get NAME KEY", 2, 2, {}, {}}, GetCommand},
    {"del", "delete KEY in one transaction",
     {"tranship del NAME KEY", 2, 2, {}, {}}, DelCommand},
    {"load", "commit transactions read from stdin ('put K V', 'del K', 'commit')",
     {"tranship load NAME < FILE", 1, 1, {}, {}}, LoadCommand},
    {"admin", "run an admin verb on a stone ('tranship help admin' lists the verbs)",
     {"tranship admin NAME VERB [ARGS...]", 2, 64, {}, {}, 2}, AdminCommand},
    {"tranlog info", "summarize one tranlog file; alias copydbf -i FILE",
     {"tranship tranlog info FILE", 1, 1, {}, {}}, TranlogInfo},
    {"tranlog verify", "check the records, chain and sequence of tranlog files",
     {"tranship tranlog verify FILE|DIR [FILE|DIR...] | --stone NAME", 0, SIZE_MAX, {},
      {"--stone"}}, TranlogVerify},
    {"workload", "testing tool: concurrent writers with an ack log, or --check it",
     {"tranship workload NAME [--writers N] [--transactions N] [--seconds S] "
      "[--keys-per-txn K] [--ack-log FILE] [--key-prefix P] [--visible-on SOCKET,...] "
      "| --check FILE",
      1, 1, {}, {"--writers", "--transactions", "--seconds", "--keys-per-txn", "--ack-log",
                 "--check", "--key-prefix", "--visible-on"}},
     WorkloadCommand},
    {"logsender start", "ship a stone's tranlogs to up to 5 logreceivers; alias startlogsender",
     {"tranship logsender start -P PORT -A LISTEN_ADDR -T DIR[,DIR...] -s STONE [-S -J CA "
      "-C CERT -K KEY -Q PASSPHRASE -V] [-l LOG] [-b KB/s] [-v|-q] [--foreground] "
      "[--timeout S] [--prefix P] [--zstd-level N|off]",
      0, 0, {"-S", "-V", "-v", "-q", "--foreground"},
      {"-P", "-A", "-T", "-s", "-J", "-C", "-K", "-Q", "-l", "-b", "--timeout", "--prefix",
       "--zstd-level"}},
     LogsenderStart},
    {"logsender stop", "stop a logsender cleanly; alias stoplogsender",
     {"tranship logsender stop -P PORT", 0, 0, {}, {"-P"}}, LogsenderStop},
    {"logsender serve", "run a logsender in this process (what startlogsender launches)",
     {"tranship logsender serve -P PORT -A LISTEN_ADDR -T DIR[,DIR...] -s STONE ... "
      "[--foreground] [--notify-fd FD]",
      0, 0, {"-S", "-V", "-v", "-q", "--foreground"},
      {"-P", "-A", "-T", "-s", "-J", "-C", "-K", "-Q", "-l", "-b", "--timeout", "--prefix",
       "--zstd-level", "--notify-fd"}},
     LogsenderServe, true},
    {"logreceiver start", "receive a primary's tranlogs into an archive directory; alias "
     "startlogreceiver",
     {"tranship logreceiver start -P PORT -A MASTER_ADDR -T ARCHIVE_DIR -s STONE [-S -J CA "
      "-C CERT -K KEY -Q PASSPHRASE -V] [-l LOG] [-v|-q] [--foreground] [--timeout S] "
      "[--prefix P] [--from-start]",
      0, 0, {"-S", "-V", "-v", "-q", "--foreground", "--from-start"},
      {"-P", "-A", "-T", "-s", "-J", "-C", "-K", "-Q", "-l", "--timeout", "--prefix"}},
     LogreceiverStart},
    {"logreceiver stop", "stop a logreceiver cleanly; alias stoplogreceiver",
     {"tranship logreceiver stop -P PORT [-s STONE]", 0, 0, {}, {"-P", "-s"}},
     LogreceiverStop},
    {"logreceiver serve", "run a logreceiver in this process (what startlogreceiver launches)",
     {"tranship logreceiver serve -P PORT -A MASTER_ADDR -T ARCHIVE_DIR -s STONE ... "
      "[--foreground] [--notify-fd FD]",
      0, 0, {"-S", "-V", "-v", "-q", "--foreground", "--from-start"},
      {"-P", "-A", "-T", "-s", "-J", "-C", "-K", "-Q", "-l", "--timeout", "--prefix",
       "--notify-fd"}},
     LogreceiverServe, true},
    {"failover", "make a standby the primary: --planned (no loss) or --emergency",
     {"tranship failover --planned --primary HOME:STONE --standby HOME:STONE "
      "[--other-standby HOME:STONE,...] [--receiver-port P] [--timeout S] [--probe-key KEY] | "
      "--emergency --standby HOME:STONE [--primary HOME:STONE | --primary-tranlogs DIR] "
      "[--receiver-port P] [--accept-gap] [--timeout S] [--probe-key KEY]",
      0, 0, {"--planned", "--emergency", "--accept-gap"},
      {"--primary", "--standby", "--other-standby", "--receiver-port", "--timeout",
       "--probe-key", "--primary-tranlogs"}},
     FailoverCommand},
};

// The verbs a stone serves (stone/admin.h, stone/restore_admin.h, docs/standby.md).
constexpr std::string_view kAdminVerbHelp =
    "\nVerbs:\n"
    "  checkpoint | start-new-log | file-size-report | digest\n"
    "  suspend-commits | resume-commits                  planned failover on a primary\n"
    "  restore-from-archive-logs DIR... [--to-end-of-log N] [--prefix P]\n"
    "  restore-from-current-logs\n"
    "  continuous-restore DIR... [--prefix P] | stop-continuous-restore\n"
    "  restore-status [--json]\n"
    "  commit-restore [--accept-gap]                     leave restore mode: a new lineage\n"
    "  full-backup FILE | restore-from-backup FILE | backup-status\n";

std::vector<std::string_view> Words(std::string_view name) {
  std::vector<std::string_view> words;
  while (!name.empty()) {
    size_t sp = name.find(' ');
    words.push_back(name.substr(0, sp));
    name.remove_prefix(sp == std::string_view::npos ? name.size() : sp + 1);
  }
  return words;
}

// The command whose words begin `args`, and how many words it used.
const Command* Find(const std::vector<std::string>& args, size_t* used) {
  for (const Command& c : kCommands) {
    std::vector<std::string_view> words = Words(c.name);
    if (words.size() > args.size()) continue;
    bool match = true;
    for (size_t i = 0; i < words.size(); i++) match = match && args[i] == words[i];
    if (match) {
      *used = words.size();
      return &c;
    }
  }
  return nullptr;
}

bool MatchesTopic(const Command& c, std::string_view topic) {
  return !c.hidden && (topic.empty() || c.name == topic ||
                       c.name.starts_with(std::string(topic) + " "));
}

// Prints the usage of the commands under `topic` ("" for all); false if there are none.
bool PrintHelp(std::string_view topic) {
  bool any = false;
  for (const Command& c : kCommands) any = any || MatchesTopic(c, topic);
  if (!any) return false;
  if (topic.empty()) {
    fmt::print("Usage: tranship COMMAND [ARGS...]   (tranship {})\n\nCommands:\n",
               TRANSHIP_VERSION);
  }
  for (const Command& c : kCommands) {
    if (MatchesTopic(c, topic)) fmt::print("  {:<56} {}\n", c.spec.usage, c.summary);
  }
  if (topic == "admin") fmt::print("{}", kAdminVerbHelp);
  if (topic.empty()) {
    fmt::print(
        "\nAliases: startstone NAME [-R], stopstone NAME, copydbf -i FILE.\n"
        "The stones live in $TRANSHIP_HOME (default $HOME/.tranship).\n"
        "Run 'tranship help COMMAND' for one command.\n");
  }
  return true;
}

// argv rewritten as tranship arguments when called through an alias.
Result<std::vector<std::string>> ExpandAlias(std::string_view prog, std::vector<std::string> a) {
  if (prog == "startstone") a.insert(a.begin(), {"stone", "start"});
  if (prog == "stopstone") a.insert(a.begin(), {"stone", "stop"});
  if (prog == "startlogsender") a.insert(a.begin(), {"logsender", "start"});
  if (prog == "stoplogsender") a.insert(a.begin(), {"logsender", "stop"});
  if (prog == "startlogreceiver") a.insert(a.begin(), {"logreceiver", "start"});
  if (prog == "stoplogreceiver") a.insert(a.begin(), {"logreceiver", "stop"});
  if (prog == "copydbf") {
    if (a.size() != 2 || a[0] != "-i") {
      return Status::InvalidArgument(
          "copydbf supports only '-i FILE' (print a tranlog summary). Usage: copydbf -i FILE");
    }
    a = {"tranlog", "info", a[1]};
  }
  return a;
}

std::string SelfExe(const char* argv0) {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string(argv0);
}

int Fail(const Status& s, int code) {
  fmt::print(stderr, "{}\n", s.message());
  return code;
}

int Main(int argc, char** argv) {
  std::vector<std::string> raw(argv + 1, argv + argc);
  Result<std::vector<std::string>> expanded = ExpandAlias(BaseName(argv[0]), std::move(raw));
  if (!expanded.ok()) return Fail(expanded.status(), 2);
  std::vector<std::string>& args = *expanded;

  if (args.empty()) {
    (void)PrintHelp("");
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::string topic;
    for (size_t i = 1; i < args.size(); i++) topic += (i > 1 ? " " : "") + args[i];
    if (!PrintHelp(topic)) {
      return Fail(Status::InvalidArgument(fmt::format(
                      "Unknown command '{}'. To see the commands run 'tranship --help'.", topic)),
                  2);
    }
    return 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    fmt::print("tranship {}\n", TRANSHIP_VERSION);
    return 0;
  }

  size_t used = 0;
  const Command* cmd = Find(args, &used);
  if (cmd == nullptr) {
    const std::string& group = args[0];
    if (group == "stone" || group == "tranlog" || group == "logsender" ||
        group == "logreceiver") {
      if (args.size() == 1) {
        return Fail(Status::InvalidArgument(fmt::format(
                        "'tranship {}' needs a command. To see them run 'tranship help {}'.",
                        group, group)),
                    2);
      }
      return Fail(Status::InvalidArgument(fmt::format(
                      "Unknown command '{} {}'. To see the {} commands run 'tranship help {}'.",
                      group, args[1], group, group)),
                  2);
    }
    return Fail(Status::InvalidArgument(fmt::format(
                    "Unknown command '{}'. To see the commands run 'tranship --help'.", group)),
                2);
  }
  std::vector<std::string> rest(args.begin() + static_cast<long>(used), args.end());
  for (const std::string& a : rest) {
    if (a == "--help" || a == "-h") {
      fmt::print("Usage: {}\n  {}\n", cmd->spec.usage, cmd->summary);
      return 0;
    }
  }
  Result<Args> parsed = ParseArgs(cmd->spec, rest);
  if (!parsed.ok()) return Fail(parsed.status(), 2);

  Result<Home> home = Home::FromEnvironment();
  if (!home.ok()) return Fail(home.status(), 1);
  Context ctx{std::move(*home), SelfExe(argv[0])};
  Status s = cmd->run(ctx, *parsed);
  if (!s.ok()) return Fail(s, 1);
  return 0;
}

}  // namespace
}  // namespace tranship::cli

int main(int argc, char** argv) { return tranship::cli::Main(argc, argv); }
