#pragma once
// Unix-socket helpers shared by the stone server and the client library.

#include <sys/un.h>

#include <string>

#include "base/status.h"

namespace tranship {

// Fills *addr for `path`; InvalidArgument if the path does not fit in sun_path
// (libuv 1.44 would silently truncate it and bind somewhere else).
Status MakeUnixAddress(const std::string& path, sockaddr_un* addr);

// Prepares `path` for a server to bind: nothing there is fine; a stale socket (nothing
// accepts) is removed; a live server there is Busy; a file that is not a socket is
// AlreadyExists and left alone.
Status ClaimSocketPath(const std::string& path);

}  // namespace tranship
