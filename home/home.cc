#include "home/home.h"

#include <sys/un.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "base/env.h"

namespace tranship::home {

Result<Home> Home::FromEnvironment() {
  const char* home = std::getenv("TRANSHIP_HOME");
  if (home != nullptr && home[0] != '\0') {
    std::string root(home);
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return Home(root);
  }
  const char* user_home = std::getenv("HOME");
  if (user_home == nullptr || user_home[0] == '\0') {
    return Status::InvalidArgument(
        "Neither TRANSHIP_HOME nor HOME is set. To fix this export TRANSHIP_HOME=/path/to/home.");
  }
  return Home(JoinPath(user_home, ".tranship"));
}

std::string Home::ConfDir() const { return JoinPath(root_, "etc/conf.d"); }
std::string Home::RunDir() const { return JoinPath(root_, "run"); }
std::string Home::LogDir() const { return JoinPath(root_, "log"); }
std::string Home::ConfPath(const std::string& name) const {
  return JoinPath(ConfDir(), name + ".conf");
}
std::string Home::DataDir(const std::string& name) const {
  return JoinPath(JoinPath(root_, "data"), name);
}
std::string Home::ExtentDir(const std::string& name) const {
  return JoinPath(DataDir(name), "extent");
}
std::string Home::DefaultTranlogDir(const std::string& name) const {
  return JoinPath(DataDir(name), "tranlog");
}
std::string Home::SnapshotDir(const std::string& name) const {
  return JoinPath(DataDir(name), "snapshot");
}
std::string Home::LogPath(const std::string& name) const {
  return JoinPath(LogDir(), name + ".log");
}
std::string Home::SocketPath(const std::string& name) const {
  return JoinPath(RunDir(), name + ".sock");
}
std::string Home::PidPath(const std::string& name) const {
  return JoinPath(RunDir(), name + ".pid");
}

Status Home::EnsureLayout() const {
  Env* env = Env::Default();
  for (const std::string& dir : {ConfDir(), JoinPath(root_, "data"), LogDir(), RunDir()}) {
    Status s = env->CreateDirs(dir);
    if (!s.ok()) {
      return Status::IOError(fmt::format("Cannot create {}: {}. To fix this check the "
                                         "permissions of TRANSHIP_HOME ({}).",
                                         dir, s.message(), root_));
    }
  }
  return Status::OK();
}

Status Home::CheckSocketPath(const std::string& name) const {
  // Unix socket paths are limited to sizeof(sun_path) bytes including the NUL.
  std::string path = SocketPath(name);
  if (path.size() < sizeof(sockaddr_un::sun_path)) return Status::OK();
  return Status::InvalidArgument(fmt::format(
      "The socket path {} is longer than {} bytes. To fix this use a shorter TRANSHIP_HOME "
      "or stone name.", path, sizeof(sockaddr_un::sun_path) - 1));
}

bool Home::StoneExists(const std::string& name) const {
  return Env::Default()->FileExists(ConfPath(name));
}

std::vector<std::string> Home::ListStones() const {
  std::vector<std::string> names;
  Result<std::vector<std::string>> children = Env::Default()->GetChildren(ConfDir());
  if (!children.ok()) return names;
  for (const std::string& f : *children) {
    if (f.size() > 5 && f.ends_with(".conf")) {
      std::string name = f.substr(0, f.size() - 5);
      if (ValidateStoneName(name).ok()) names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status Home::RequireStone(const std::string& name) const {
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(name));
  if (StoneExists(name)) return Status::OK();
  return Status::NotFound(fmt::format(
      "The stone '{}' does not exist. To fix this run 'tranship stone create {}'.", name, name));
}

Result<StoneConfig> Home::LoadStoneConfig(const std::string& name) const {
  Result<StoneConfig> c = LoadConfig(Env::Default(), ConfPath(name));
  if (!c.ok()) {
    return Status::InvalidArgument(
        fmt::format("{} To fix this edit the file.", c.status().message()));
  }
  return c;
}

std::vector<std::string> Home::TranlogDirs(const std::string& name, const StoneConfig& c) const {
  if (c.tranlog_dirs.empty()) return {DefaultTranlogDir(name)};
  std::vector<std::string> dirs;
  for (const std::string& d : c.tranlog_dirs) {
    dirs.push_back(d.starts_with('/') ? d : JoinPath(DataDir(name), d));
  }
  return dirs;
}

EngineOptions Home::EngineOptionsFor(const std::string& name, const StoneConfig& c) const {
  EngineOptions o;
  o.extent_dir = ExtentDir(name);
  o.tranlog_dirs = TranlogDirs(name, c);
  o.tranlog_prefix = c.tranlog_prefix;
  o.tranlog_size_bytes = c.tranlog_size_mb << 20;
  o.checkpoint_interval_s = c.checkpoint_interval_s;
  o.state_write_bytes_per_s = uint64_t{c.state_write_rate_mb} << 20;
  return o;
}

Status ValidateStoneName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || c == '.';
    ok = ok && allowed;
  }
  if (ok) return Status::OK();
  return Status::InvalidArgument(fmt::format(
      "'{}' is not a valid stone name. To fix this use up to 64 letters, digits, '_', '-' "
      "or '.', not starting with '.' or '-'.", name));
}

}  // namespace tranship::home
