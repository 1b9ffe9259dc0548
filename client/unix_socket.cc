#include "client/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>

#include "base/log.h"

namespace tranship {

Status MakeUnixAddress(const std::string& path, sockaddr_un* addr) {
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    return Status::InvalidArgument(fmt::format(
        "socket path '{}' is {} bytes; Unix sockets allow 1 to {}", path, path.size(),
        sizeof(addr->sun_path) - 1));
  }
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  path.copy(addr->sun_path, path.size());
  return Status::OK();
}

Status ClaimSocketPath(const std::string& path) {
  sockaddr_un addr{};
  TRANSHIP_RETURN_IF_ERROR(MakeUnixAddress(path, &addr));
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno(errno, "stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::AlreadyExists(fmt::format(
        "'{}' exists and is not a socket; move it away or choose another socket path", path));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket");
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  // EAGAIN: a live listener whose backlog is full.
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
    return Status::Busy(
        fmt::format("another stone server is already listening on '{}'; stop it first", path));
  }
  if (err != ECONNREFUSED) return Status::FromErrno(err, "probe socket " + path);
  TS_LOG_INFO("removing stale socket {}", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "remove stale socket " + path);
  }
  return Status::OK();
}

}  // namespace tranship
