#include "cli/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "base/env.h"
#include "tranlog/format.h"

namespace tranship::cli {
namespace fs = std::filesystem;
namespace {

Status FromErrorCode(const std::error_code& ec, std::string_view context) {
  return Status::FromErrno(ec.value(), context);
}

Status CopyFile(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::FromErrno(errno, "open " + from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return Status::FromErrno(err, "create " + to);
  }
  Status s;
  char buf[1 << 16];
  while (s.ok()) {
    ssize_t n = ::read(in, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = Status::FromErrno(errno, "read " + from);
    if (n <= 0) break;
    for (ssize_t done = 0; done < n && s.ok();) {
      ssize_t w = ::write(out, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) s = Status::FromErrno(errno, "write " + to);
      else done += w;
    }
  }
  if (s.ok() && ::fsync(out) != 0) s = Status::FromErrno(errno, "fsync " + to);
  ::close(in);
  ::close(out);
  return s;
}

}  // namespace

Status CopyTree(const std::string& from, const std::string& to) {
  if (::mkdir(to.c_str(), 0700) != 0) return Status::FromErrno(errno, "mkdir " + to);
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(from, ec)) {
    std::string src = e.path().string();
    std::string dst = JoinPath(to, e.path().filename().string());
    if (e.is_directory(ec)) {
      TRANSHIP_RETURN_IF_ERROR(CopyTree(src, dst));
    } else if (e.is_regular_file(ec)) {
      TRANSHIP_RETURN_IF_ERROR(CopyFile(src, dst));
    }
    // Sockets, fifos and links have no place in a repository and are not copied.
  }
  if (ec) return FromErrorCode(ec, "list " + from);
  return Env::Default()->SyncDir(to);
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return FromErrorCode(ec, "remove " + path);
  return Status::OK();
}

Status RemoveTranlogFiles(const std::string& dir, const std::string& prefix) {
  Env* env = Env::Default();
  Result<std::vector<std::string>> names = env->GetChildren(dir);
  if (!names.ok()) return names.status().IsNotFound() ? Status::OK() : names.status();
  for (const std::string& n : *names) {
    uint64_t id;
    if (tranlog::ParseFileName(n, prefix, &id)) {
      TRANSHIP_RETURN_IF_ERROR(env->RemoveFile(JoinPath(dir, n)));
    }
  }
  return Status::OK();
}

}  // namespace tranship::cli
