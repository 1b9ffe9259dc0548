#pragma once
// The loop a daemon body plugs into: one libuv loop, SIGTERM and SIGINT, periodic ticks
// (status files) and the teardown that proves every handle closed.
//
// A body (logsender/daemon.h, logreceiver/daemon.h) builds its objects on loop(), tells
// OnStop what stopping means for them (a goodbye to each peer, closing listeners), calls
// WatchSignals once it serves, and Run()s. The first SIGTERM or SIGINT, or a Stop() of
// the body's own, runs that once with the reason ("stop requested (SIGTERM)") and closes
// the skeleton's handles; Run returns when the body's handles have closed too, and the
// body then removes its run files (daemon/run_files.h).

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tranship::daemon {

class DaemonLoop {
 public:
  // `what` names the daemon in the leak line: "logsender: a libuv handle was left open".
  explicit DaemonLoop(std::string what);
  ~DaemonLoop();
  DaemonLoop(const DaemonLoop&) = delete;
  DaemonLoop& operator=(const DaemonLoop&) = delete;

  uv_loop_t* loop() { return &loop_; }

  // What stopping does to the body's objects; runs once, on the loop thread.
  void OnStop(std::function<void(const std::string& why)> on_stop);
  // Stops the daemon: the body's OnStop, then the skeleton's handles close.
  // REQUIRES: called on the loop thread.
  void Stop(const std::string& why);
  // From now on SIGTERM and SIGINT call Stop("stop requested (SIGTERM)") (or SIGINT).
  void WatchSignals();
  // Calls `tick` every `period_ms` until the stop.
  void Every(uint64_t period_ms, std::function<void()> tick);

  // Runs until every handle closed, then closes the loop; a handle left open is logged.
  void Run();
  // A start that failed: runs what is ready without waiting (kNoWait) or until every
  // handle closed (kDrain), then closes the loop without a word.
  enum class Abandon { kNoWait, kDrain };
  void Close(Abandon how);

 private:
  struct Handle;  // a signal or a timer, freed in its close callback
  void CloseHandles();

  std::string what_;
  uv_loop_t loop_;
  bool closed_ = false;
  bool stopped_ = false;
  std::function<void(const std::string&)> on_stop_;
  std::vector<Handle*> handles_;
};

}  // namespace tranship::daemon
