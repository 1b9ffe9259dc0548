#pragma once
// TRANSHIP_HOME: the directory that holds one host's stones (default $HOME/.tranship).
//
//   etc/conf.d/NAME.conf    the stone's configuration (home/config.h)
//   data/NAME/extent/       extent0.dbf, the engine's lock and markers
//   data/NAME/tranlog/      tranlogs (unless STN_TRAN_LOG_DIRECTORIES says otherwise)
//   data/NAME/snapshot/     the copy made by `tranship stone snapshot`
//   log/NAME.log            the stone's log
//   run/NAME.pid, run/NAME.sock   present while the stone runs
//
// Every directory is created with mode 0700: the socket accepts commands from anyone
// who can reach it. See docs/home-layout.md.

#include <string>
#include <vector>

#include "base/status.h"
#include "home/config.h"
#include "engine/engine.h"

namespace tranship::home {

class Home {
 public:
  // $TRANSHIP_HOME, or $HOME/.tranship.
  static Result<Home> FromEnvironment();
  explicit Home(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string ConfDir() const;
  std::string RunDir() const;
  std::string LogDir() const;
  std::string ConfPath(const std::string& name) const;
  std::string DataDir(const std::string& name) const;
  std::string ExtentDir(const std::string& name) const;
  std::string DefaultTranlogDir(const std::string& name) const;
  std::string SnapshotDir(const std::string& name) const;
  std::string LogPath(const std::string& name) const;
  std::string SocketPath(const std::string& name) const;
  std::string PidPath(const std::string& name) const;

  // Creates etc/conf.d, data, log and run (mode 0700) if missing.
  Status EnsureLayout() const;
  // InvalidArgument if run/NAME.sock would be too long for a Unix socket.
  Status CheckSocketPath(const std::string& name) const;
  // A stone exists when its configuration file does.
  bool StoneExists(const std::string& name) const;
  // Names of the stones, sorted.
  std::vector<std::string> ListStones() const;
  // NotFound "The stone 'x' does not exist. To fix this run ..." if it does not.
  Status RequireStone(const std::string& name) const;
  Result<StoneConfig> LoadStoneConfig(const std::string& name) const;
  // The tranlog directories of a configuration, made absolute.
  std::vector<std::string> TranlogDirs(const std::string& name, const StoneConfig& c) const;
  EngineOptions EngineOptionsFor(const std::string& name, const StoneConfig& c) const;

 private:
  std::string root_;
};

// Stone names become file names and socket paths: letters, digits, '_', '-', '.',
// not starting with '.' or '-', at most 64 characters.
Status ValidateStoneName(const std::string& name);

}  // namespace tranship::home
