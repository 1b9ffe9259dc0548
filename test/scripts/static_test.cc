// The scripts as files: shellcheck finds nothing in any shell script of the repository,
// every operator script prints its usage on -h and exits 2 on bad usage, and the systemd
// units pass `systemd-analyze verify` and their ExecStart command lines really run the
// stone and the daemons in the foreground, which stop cleanly (exit 0) on SIGTERM.

#include <signal.h>

#include <algorithm>
#include <map>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

const std::vector<std::string> kOperatorScripts = {
    "warm-standby/ship-tranlogs", "warm-standby/restore-arrived", "watchdog/watchdog",
    "watchdog/watchdog-loop"};

// Every file under scripts/, certs/ and test/ whose first line is a shell's #!.
std::vector<std::string> ShellScripts() {
  std::vector<std::string> out;
  std::filesystem::path root = std::filesystem::path(ScriptsDir()).parent_path();
  for (const char* dir : {"scripts", "certs", "test"}) {
    for (auto& e : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (!e.is_regular_file()) continue;
      std::string head = ReadAll(e.path()).substr(0, 64);
      std::string first = head.substr(0, head.find('\n'));
      if (first.starts_with("#!") && (Contains(first, "bash") || first.ends_with("/sh"))) {
        out.push_back(e.path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("shellcheck finds nothing in any shell script") {
  std::vector<std::string> files = ShellScripts();
  for (const std::string& s : kOperatorScripts) {
    CHECK_MESSAGE(std::count(files.begin(), files.end(), Script(s)) == 1, s);
  }
  std::string cmd = "shellcheck -x";
  for (const std::string& f : files) cmd += " '" + f + "'";
  TempDir tmp;
  int rc = std::system((cmd + " >'" + (tmp / "out") + "' 2>&1").c_str());
  std::string out = ReadAll(tmp / "out");
  REQUIRE_MESSAGE(!Contains(out, "not found"), "shellcheck is not installed: run scripts/bootstrap");
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.empty());
}

TEST_CASE("every operator script has a usage line: -h prints it, bad usage exits 2") {
  Cluster c(0);
  for (const std::string& s : kOperatorScripts) {
    std::string name = std::filesystem::path(s).filename();
    Proc help = RunScript(c.primary(), s, {"-h"});
    CHECK_MESSAGE(help.code == 0, s);
    CHECK_MESSAGE(help.out.starts_with("Usage: " + name + " "), help.out);
    Proc bad = RunScript(c.primary(), s, {});
    CHECK_MESSAGE(bad.code == 2, s);
    CHECK_MESSAGE(bad.out.starts_with("Usage: " + name + " "), bad.out);
  }
}

std::string UnitPath(const std::string& unit) { return Script("systemd/" + unit); }

// The unit's ExecStart with the binary, %i and $VAR (from `env`) filled in, as words.
std::vector<std::string> ExecStart(const std::string& unit, const std::string& instance,
                                   const std::map<std::string, std::string>& env) {
  std::istringstream in(ReadAll(UnitPath(unit)));
  std::string line;
  while (std::getline(in, line) && !line.starts_with("ExecStart=")) {}
  REQUIRE(line.starts_with("ExecStart=/usr/local/bin/tranship "));
  std::vector<std::string> words;
  std::istringstream ws(line.substr(line.find(' ') + 1));
  for (std::string w; ws >> w;) {
    if (w == "%i") w = instance;
    if (w.starts_with("$")) {
      std::istringstream vs(env.at(w.substr(1)));
      for (std::string v; vs >> v;) words.push_back(v);
      continue;
    }
    words.push_back(w);
  }
  return words;
}

TEST_CASE("systemd units: systemd-analyze verify is silent; ExecStart runs in the foreground "
          "and SIGTERM stops it cleanly") {
  const std::vector<std::string> units = {"tranship-stone@.service", "tranship-logsender@.service",
                                          "tranship-logreceiver@.service"};
  for (const std::string& u : units) {
    std::string text = ReadAll(UnitPath(u));
    CHECK_MESSAGE(Contains(text, "\nRestart=on-failure\n"), u);
    CHECK_MESSAGE(Contains(text, "--foreground"), u);
    CHECK_MESSAGE(Contains(text, "\nEnvironmentFile="), u);
  }
  const char* analyze = std::getenv("SYSTEMD_ANALYZE");
  if (analyze == nullptr || *analyze == '\0') {
    MESSAGE("systemd-analyze is not installed here: the units were not verified by it");
  } else {
    TempDir tmp;
    for (const std::string& u : units) {
      // An instance of the template, running the built binary (verify wants it to exist).
      std::string text = ReadAll(UnitPath(u));
      for (size_t at; (at = text.find("/usr/local/bin/tranship")) != std::string::npos;) {
        text.replace(at, 23, TranshipExe());
      }
      std::string inst = tmp / (u.substr(0, u.find('@') + 1) + "x.service");
      WriteAll(inst, text);
      std::string out = tmp / "verify.out";
      int rc = std::system((std::string(analyze) + " verify '" + inst + "' >'" + out + "' 2>&1").c_str());
      CHECK_MESSAGE(rc == 0, u << ": " << ReadAll(out));
      CHECK_MESSAGE(ReadAll(out).empty(), u << ": " << ReadAll(out));
    }
  }

  Cluster c(1);
  Host& p = c.primary();
  Host& s = c.standby(0);
  REQUIRE(p.Run({"stone", "create", "prod"}).code == 0);
  REQUIRE(s.Run({"stone", "create", "standby"}).code == 0);
  std::string port = std::to_string(c.port());
  struct Case {
    Host* host;
    std::string unit, instance, var, opts, pidfile;
  };
  std::vector<Case> cases = {
      {&p, "tranship-stone@.service", "prod", "STONE_OPTS", "", "prod.pid"},
      {&p, "tranship-logsender@.service", port, "LOGSENDER_OPTS",
       "-P " + port + " -A 127.0.0.1 -T " + p.Path("data/prod/tranlog") + " -s prod",
       "logsender-" + port + ".pid"},
      {&s, "tranship-logreceiver@.service", port + "-standby", "LOGRECEIVER_OPTS",
       "-P " + port + " -A 127.0.0.1 -T " + s.Path("archive") + " -s standby",
       "logreceiver-" + port + "-standby.pid"},
  };
  for (const Case& k : cases) {
    std::vector<std::string> words = ExecStart(k.unit, k.instance, {{k.var, k.opts}});
    pid_t pid = k.host->Spawn(words, c.Temp(k.instance + ".out"));
    KillOnExit guard{pid};
    CHECK_MESSAGE(WaitFor([&] { return k.host->PidOf(k.pidfile) == pid; }, std::chrono::seconds(30)),
                  k.unit << ": " << ReadAll(c.Temp(k.instance + ".out")));
    kill(pid, SIGTERM);
    CHECK_MESSAGE(WaitExit(pid) == 0, k.unit);  // Restart=on-failure: a clean stop stays stopped
  }
}

}  // namespace
}  // namespace tranship::test
