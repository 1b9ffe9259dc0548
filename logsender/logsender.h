#pragma once
// The logsender: streams the primary stone's durable tranlog records to up to five
// logreceivers (docs/protocol.md).
//
// Who starts it: `startlogsender` (cli/logsender_command.cc) forks and execs `tranship
// logsender serve`, or runs it in the foreground (--foreground, for systemd and tests).
// The daemon (logsender/daemon.h, on the daemon/ skeleton) owns the libuv loop, the
// TCP/TLS listener, the signal handles and this LogSender, which owns everything else:
// the receiver sessions, the shared frame cache, the stone follower, the build jobs on
// the libuv thread pool (build_jobs.cc) and two timers. How it follows changes of the
// primary's history is history_changes.cc.
//
// What it ships: only records durable on the primary (Invariant 2). The durable end
// comes from the stone's subscription (StoneFollower); while the stone is down the
// logsender keeps running and takes the end from disk (DiskEndScanner: scan, then
// fdatasync the newest file itself), and the subscription is authoritative again once
// it is back.
//
// Signals (handled by the daemon, which calls Stop): SIGTERM and SIGINT are a clean
// stop: each receiver gets a Refuse(kShuttingDown) goodbye, the connections close, the
// pid and status files are removed, and the log says why it stopped. A lost receiver
// (closed connection, silence past the timeout, garbage, a broken rule) is dropped
// alone: the others are not affected, and it reconnects by itself. A lost stone is
// logged once and retried with a backoff; shipping continues from disk meanwhile.
//
// The main loop, every tick (100 ms) and on every event that can change the answer:
//   accept / handshake   new connections become sessions; a Hello gets Welcome or Refuse
//   process acks         (as they arrive) move each receiver's acknowledged position
//   send data            frames from the cache, or built on the thread pool, per receiver
//   check timeouts       drop receivers silent for longer than the timeout
//   keepalive            after 1 s of silence, a Keepalive with the primary's end
//   follow the stone     subscription pushes; while it is down, the end from disk
//   status               on each state change and every second, to on_status
//
// Memory is bounded whatever the backlog: per receiver a window of unacknowledged bytes
// and the transport's high-water mark; the frame cache has a byte limit; a receiver far
// behind reads the files one frame at a time.
//
// REQUIRES: every call on the loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "tranlog/types.h"
#include "logsender/disk_end.h"
#include "logsender/frame_builder.h"
#include "logsender/frame_cache.h"
#include "logsender/history.h"
#include "logsender/lineages.h"
#include "logsender/receiver_session.h"
#include "logsender/sender_status.h"
#include "logsender/stone_follower.h"
#include "wire/transport.h"

namespace tranship::logsender {

struct LogSenderOptions {
  std::string stone;                      // -s: the primary stone
  std::vector<std::string> tranlog_dirs;  // -T
  std::string prefix = "tranlog";         // the stone's tranlog file prefix
  std::string stone_socket;               // run/STONE.sock; empty: follow the disk only
  bool tls = false;                       // reported in the status
  uint64_t bandwidth_bytes_per_s = 0;     // -b, per receiver; 0 = unlimited
  uint32_t keepalive_ms = 1000;
  uint32_t timeout_ms = 10000;  // --timeout
  size_t max_receivers = 5;
  // 32 MiB holds the last ~30 frames: all receivers within that distance of each other
  // share reads and compressions.
  size_t cache_bytes = 32u << 20;
  // 16 MiB unacknowledged per receiver covers the bandwidth-delay product of a fast LAN
  // with fdatasync on the standby, and bounds memory at five receivers.
  size_t window_bytes = 16u << 20;
  uint32_t frame_target = kTargetFrameRaw;
  int zstd_level = kDefaultZstdLevel;  // of every frame (frame_builder.h)
  uint32_t disk_poll_ms = 200;  // while the stone is down
  Env* env = nullptr;           // nullptr: Env::Default()
  // Every second and on each receiver state change.
  std::function<void(const SenderStatus&)> on_status;
};

struct LogSenderStats {
  uint64_t frames_built = 0;  // file reads + compressions
  uint64_t cache_hits = 0;    // frames sent without building
  uint64_t frames_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t refused = 0;              // receivers refused after their Hello
  uint64_t dropped = 0;              // sessions dropped (silence, garbage, a flood)
  uint64_t refused_connections = 0;  // connections refused before their handshake ended
  uint64_t frames_read_ahead = 0;    // cuts started before a receiver's cursor got there
  uint64_t frames_built_here = 0;    // small frames at the end built on the loop thread
  uint64_t frames_uncompressed = 0;  // built without zstd (--zstd-level off, or incompressible)
};

class LogSender : public SessionHost {
 public:
  LogSender(uv_loop_t* loop, LogSenderOptions options);
  // REQUIRES: Stop()'s callback has run, or Start() failed or was never called.
  ~LogSender() override;

  // Finds the durable end (from disk; then from the stone once subscribed) and starts
  // the timers and the stone follower. Fails if the tranlog directories hold nothing.
  Status Start();
  // A new connection: from the Listener, or one end of a MemoryPipe in tests.
  void Accept(std::unique_ptr<wire::Transport> transport);
  // A connection the listener refused before its handshake ended (counted in status).
  void CountRefusedConnection() { stats_.refused_connections++; }
  // Says goodbye to every receiver and closes every handle; `done` runs after the last.
  void Stop(const std::string& reason, std::function<void()> done);

  SenderStatus Snapshot();
  const LogSenderStats& stats() const { return stats_; }
  const DurableEnd& durable_end() const { return end_; }
  size_t sessions() const { return sessions_.size(); }

  // SessionHost
  void OnHello(ReceiverSession* s, const wire::Hello& hello) override;
  void OnSendable(ReceiverSession* s) override;
  void OnStateChanged(ReceiverSession* s) override;
  void OnClosed(ReceiverSession* s) override;

 private:
  struct BuildJob;
  // Catch-up below this distance from the end becomes streaming; streaming above the
  // higher mark falls back to catch-up (the gap keeps a receiver from flapping).
  static constexpr uint64_t kStreamingBytes = 4u << 20;
  static constexpr uint64_t kCatchUpBytes = 16u << 20;
  static constexpr uint64_t kTickMs = 100;
  // Build jobs (cut or compress) in flight per receiver: with 4 pool threads, a
  // receiver catching up alone keeps both cores of a small primary busy compressing.
  static constexpr int kBuildsAhead = 4;
  // A frame of at most this many bytes at the end of the primary's newest file is cut
  // and compressed on the loop thread (tens of microseconds): the two thread switches
  // of a pool job would cost more, in CPU and in latency, than the work itself.
  static constexpr uint64_t kInlineBytes = 64u << 10;

  void Tick();
  void CheckTimeouts(uint64_t now);
  void SendKeepalives(uint64_t now);
  void FollowStone(uint64_t now);
  void SendData(ReceiverSession* s);
  void SendDataToAll();
  // For a receiver catching up, frames are built in two pool jobs
  // (logsender/frame_builder.h): StartCut reads and checks, FinishCut queues the
  // compression and the next cut (up to kBuildsAhead jobs per receiver), FinishCompress
  // caches the frame. Near the end, one job does both steps, and a small one runs on
  // the loop thread itself (kInlineBytes).
  void StartBuild(ReceiverSession* s);
  void StartCut(uint64_t session_id, const Boundary& at, const std::string& path,
                FileSource source);
  // Runs `work` on the pool (or here when `here`), then `done` on the loop; counts the
  // job in flight.
  void Queue(BuildJob* job, void (*work)(BuildJob*), void (LogSender::*done)(BuildJob*),
             bool here = false);
  // Counts a finished job off; false if the logsender is stopping (the job is dropped).
  bool EndJob(BuildJob* job);
  void FinishCut(BuildJob* job);
  void FinishCompress(BuildJob* job);
  // The job's frame goes into the cache (evicting what no receiver needs first).
  void CacheFrame(BuildJob* job);
  int BuildsOf(uint64_t session_id) const;
  // The current history leaves its lineage at `at`, or cannot be traced: no read-ahead.
  bool JunctionAhead(const Boundary& at);
  // The primary's files cannot be shipped from `from`: the receivers there are refused
  // (a failed read-ahead, with no receiver there yet, is only logged at debug level).
  void FailBuild(const Position& from, const Status& st);
  void UpdateStreamingState(ReceiverSession* s);
  // The current history (traced again after the lineage changed); nullptr if the
  // primary's files cannot be read (logged once).
  const CurrentHistory* Current();
  // After the primary's lineage changed: a receiver whose stream went on past the point
  // where the new lineage left the old one is refused (fork in time).
  void RecheckSessions();
  void OnDurableEnd(const DurableEnd& e, bool from_stone);
  // A scan of the primary's files from scratch; nullopt (logged) if they cannot be read.
  std::optional<DurableEnd> RescanDisk();
  // The primary's history changed (a new lineage, or rewound): cached frames, learned
  // boundaries and frames still being built are of the old one.
  void ForgetHistory();
  // `b` is a record boundary of the files up to `end`, with b's TID and chain after it.
  bool Holds(const Boundary& b, const DurableEnd& end);
  // The files, found to end at `disk` (same lineage), no longer hold end_: they were put
  // back to an earlier state, whatever was written after that.
  bool Rewound(const DurableEnd& disk);
  // After Rewound: the history is the files' up to `e`; receivers sent what they no
  // longer hold are dropped, to reconnect from their archives.
  void Rewind(const DurableEnd& e);
  // The job began before the history was forgotten: its result is dropped.
  bool Stale(BuildJob* job);
  void PublishStatus();
  void ReapClosed();
  void MaybeFinishStop();
  ReceiverStatus DescribeReceiver(ReceiverSession* s);

  uv_loop_t* loop_;
  LogSenderOptions opts_;
  Env* env_;
  History history_;
  std::optional<CurrentHistory> current_;
  std::string last_trace_error_;
  DiskEndScanner disk_;
  FrameCache cache_;
  std::unique_ptr<StoneFollower> follower_;
  DurableEnd end_;

  uv_timer_t tick_;
  uv_timer_t reaper_;
  int open_handles_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool follower_closed_ = false;
  bool closing_handles_ = false;
  std::function<void()> on_stopped_;

  uint64_t next_session_id_ = 1;
  std::map<uint64_t, std::unique_ptr<ReceiverSession>> sessions_;
  std::vector<std::unique_ptr<ReceiverSession>> closed_;  // freed by the reaper
  std::set<Position> building_;                           // frames being built
  std::map<Position, Position> nothing_until_;  // from -> the end at which nothing followed
  size_t jobs_in_flight_ = 0;
  std::map<uint64_t, int> builds_of_;  // session id -> its build jobs in flight
  uint64_t epoch_ = 0;  // ForgetHistory() count
  uint64_t next_disk_scan_ns_ = 0;
  uint64_t next_status_ns_ = 0;
  std::string last_disk_error_;
  LogSenderStats stats_;
};

}  // namespace tranship::logsender
