#pragma once
// The stone server: serves an open Stone (its engine and restore controller) with the
// client protocol (docs/client-protocol.md) on a Unix socket with a libuv loop.
//
// Started by the `tranship stone serve` daemon process (what startstone launches).
// SIGTERM and SIGINT stop the loop; the caller then closes the Stone (clean stop:
// continuous restore remembered, checkpoint + marker). A connection that sends garbage or an oversize message is
// closed; other connections are not affected.

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "stone/stone.h"

namespace tranship {

struct StoneServerOptions {
  std::string name;          // the stone's name, reported by `info`
  std::string socket_path;   // created with mode 0600; a stale socket file is replaced
  bool handle_signals = true;  // stop on SIGTERM / SIGINT
  std::string extent_dir;      // optional: file-size-report then includes the extent
};

class StoneServer {
 public:
  StoneServer(Stone* stone, StoneServerOptions options);
  ~StoneServer();

  // Binds the socket, calls `on_listening` once logins are accepted, then runs the loop
  // on the calling thread until a stop signal or RequestStop(). Returns the reason it
  // stopped as a Status (ok for a requested stop).
  Status Run(const std::function<void()>& on_listening);
  // Thread-safe; makes Run() return.
  void RequestStop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tranship
