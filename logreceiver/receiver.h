#pragma once
// The logreceiver: the standby end of tranlog shipping, in the manner of PostgreSQL's
// walreceiver.
//
// Who starts it: `startlogreceiver` launches `tranship logreceiver serve`, which builds
// one LogReceiver on its libuv loop (logreceiver/daemon.h; the flags are parsed in
// cli/logreceiver_command.cc). Frames are handled in receiver_frames.cc, archive writes
// in archive_writes.cc. Tests build it over a
// wire::MemoryPipe.
//
// What it owns: the archive directory (archive.h; nothing else writes there), at most
// one connection to the logsender, and its timers. It never writes anywhere else: pid
// and status files and the standby stone's notification belong to the daemon around it
// (on_durable and status() feed them).
//
// What it does, as a list (each step one function below):
//   scan the archive -> its durable end (cut an incomplete tail)
//   empty archive: ask the standby stone where its restored state ends, waiting for it
//     while it cannot say                                    (state waiting for stone)
//   connect to the sender, say Hello with that end        (state connecting, handshake)
//   Welcome: stream; Refuse: log the sender's words, wait (refused)
//   for each Data frame: check it follows, decompress, validate every record, keep it
//   after the frames that arrived together: one write job on the thread pool appends
//     them and fdatasyncs, so that the next frames are received, decompressed and
//     checked meanwhile; once it ended, Ack, on_durable. A few small frames (streaming)
//     are appended on this thread instead, on_written, and the job only fdatasyncs
//   every tick: keepalive after 1 s of silence; drop a sender silent for the timeout
//   a write or sync fails (disk full): cut back to the durable end, stop acking, drop
//     the link, retry every 2 s from the durable end                    (disk full)
//   any disconnect: sync what was written, rescan, reconnect with backoff
//
// SIGTERM and SIGINT (handled by the daemon) call Stop(): sync and acknowledge what was
// written, close the link (queued bytes are sent first), close every handle. A lost or
// silent sender is never fatal: the receiver reconnects, 100 ms doubling to 5 s, reset
// by a Welcome; a refusal for a fork in time or a tranlog gone from the primary is
// retried only every 30 s because an operator must reseed this standby.
//
// REQUIRES: every call on the loop thread.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "client/client.h"
#include "tranlog/types.h"
#include "logreceiver/archive.h"
#include "wire/batch.h"
#include "wire/protocol.h"
#include "wire/transport.h"

namespace tranship::logreceiver {

struct ReceiverOptions {
  std::string stone;        // the standby stone this receiver feeds (Hello)
  std::string host;         // this host's name (Hello, for the sender's logs)
  std::string master;       // "HOST:PORT" of the sender, for logs and status
  Env* env = nullptr;       // archive I/O (a FaultInjectionEnv in disk-full tests)
  std::string archive_dir;
  std::string prefix = "tranlog";
  // How to start when the archive is empty: kFromStart, or kAfterTid with the lineage,
  // TID and chain where the standby stone's state ends.
  wire::StartMode empty_mode = wire::StartMode::kFromStart;
  Lineage after_lineage;
  uint64_t after_tid = 0;
  uint64_t after_chain = 0;
  // When set, the fields above are not used: before each connection with an empty
  // archive the receiver asks the standby stone where its state ends (start_point.h).
  // `ask_stone` answers on the loop thread, maybe later, with what the stone says
  // (nullopt: it cannot be reached); until the stone can say, the receiver waits and
  // asks again every stone_wait_ms.
  std::function<void(std::function<void(std::optional<StoneInfo>)>)> ask_stone;
  bool from_start = false;  // --from-start: ship from tranlog 1 without asking
  uint32_t stone_wait_ms = 1000;
  // Tunables, in milliseconds. The defaults are the protocol's (1 s keepalive, 10 s
  // timeout); tests shorten them.
  uint32_t keepalive_ms = 1000;
  uint32_t timeout_ms = 10000;
  uint32_t min_backoff_ms = 100;   // first retry after a lost link: quick, it is usually
  uint32_t max_backoff_ms = 5000;  // a restart; 5 s bounds the load of a dead sender
  uint32_t refused_retry_ms = 30000;  // fork in time / tranlog gone: an operator acts
  uint32_t disk_full_retry_ms = 2000;
  // Frames that arrived together and hold at most this many bytes are written on the
  // loop thread (a write is cheaper than the thread switches of a job); larger batches
  // are written by the job. Tests set 0 to send everything through the job.
  uint64_t inline_write_bytes = 64u << 10;
};

// Opens a transport to the sender; `done` runs once, later, on the loop thread.
using Connector =
    std::function<void(std::function<void(Result<std::unique_ptr<wire::Transport>>)> done)>;

class LogReceiver {
 public:
  enum class State {
    kWaitingForStone,  // empty archive: the standby stone has not said where it ends
    kConnecting,
    kHandshake,
    kStreaming,
    kDiskFull,
    kRefused,
    kStopping
  };
  static const char* ToString(State s);

  // What `tranship status` and the status file show.
  struct Snapshot {
    State state = State::kConnecting;
    std::string peer;          // the sender's transport name while connected
    DurableEnd archive_end;    // durable (and acknowledged once connected)
    DurableEnd primary_end;    // the sender's last word on the primary's durable end
    bool primary_known = false;
    uint64_t lag_bytes = 0;    // at least this many bytes behind (exact within one file)
    double lag_seconds = 0;
    std::string last_error;
  };

  LogReceiver(uv_loop_t* loop, ReceiverOptions options, Connector connector);
  ~LogReceiver();
  LogReceiver(const LogReceiver&) = delete;
  LogReceiver& operator=(const LogReceiver&) = delete;

  // Scans the archive and starts connecting. An error (a damaged archive) is for the
  // operator; nothing was started then.
  Status Start();
  // Clean stop (see above). The loop ends once every handle is closed.
  void Stop(std::string_view why);

  State state() const { return state_; }
  Snapshot status() const;
  // REQUIRES: !syncing() (a write job owns the archive while it runs).
  const Archive& archive() const { return archive_; }
  // A write job is running on the thread pool (tests wait for it as for a disk).
  bool syncing() const { return write_ != nullptr; }

  // After each fdatasync that moved the archive's end (standby notification).
  std::function<void(const DurableEnd&)> on_durable;
  // After small frames were written, before their fdatasync: the standby may replay
  // them already (continuous restore reads what is complete in the files).
  std::function<void(const DurableEnd&)> on_written;
  // After each state change (status file).
  std::function<void(State)> on_state;

 private:
  enum class Retry { kBackoff, kRefusedSlow, kDiskFull };

  void SetState(State s, std::string_view why);
  void Connect();
  void AskStone();  // empty archive: where does the standby stone's state end?
  void ConnectNow();
  void OnConnected(Result<std::unique_ptr<wire::Transport>> t);
  void OnReady();
  void OnData(std::string_view bytes);
  void OnClosed(const Status& why);
  Status HandleFrame(const wire::Frame& f);
  Status HandleWelcome(std::string_view body);
  Status HandleRefuse(std::string_view body);
  Status HandleData(std::string_view body);
  StreamEnd CheckedEnd() const;  // where the last checked frame ends
  std::string TakeSpare();  // an empty buffer, with capacity if one was written before
  void Recycle(std::string&& buffer);  // a written frame's buffer, for TakeSpare
  void FlushStep();  // each loop iteration: a write job for the frames checked
  void StartWrite(bool here);  // here: on this thread, not the pool
  void FinishWrite();  // the job ended: Ack and notify, or disk full
  void WaitForWrite();
  void FlushNow();  // write what was checked, on this thread (stop, lost link)
  uint64_t WritingBytes() const;  // what the write job in flight holds (archive_writes.cc)
  void Synced();    // durable_end() moved: Ack, notify
  void Tick();       // keepalive and timeout
  void DiskFull(const Status& why, uint64_t needed, uint64_t file_id, uint64_t offset);
  void Drop(const Status& why);
  void Send(std::string frame);
  void ScheduleRetry(Retry kind);
  void CloseHandles();

  uv_loop_t* loop_;
  ReceiverOptions opts_;
  Connector connector_;
  Archive archive_;
  State state_ = State::kConnecting;
  bool started_ = false;
  bool stopping_ = false;
  std::string last_error_;
  std::string last_connect_error_;  // logged once until it changes

  // One connection at a time; `session_` tells its callbacks from a previous one's.
  std::unique_ptr<wire::Transport> transport_;
  uint64_t session_ = 0;
  bool connecting_ = false;     // a Connector call is outstanding
  bool asking_ = false;         // an ask_stone call is outstanding
  uint64_t ask_generation_ = 0; // answers to an older ask (before Stop) are ignored
  std::string waiting_why_;     // logged once per wait for the stone
  bool welcomed_ = false;
  bool dropping_ = false;       // Close() was called; stop handling its frames
  std::string peer_;
  wire::FrameReader reader_{wire::kMaxSenderHandshakeFrame};
  wire::Decompressor decompressor_;
  std::string raw_;             // one decompressed Data frame
  uint64_t last_recv_ns_ = 0;
  uint64_t last_send_ns_ = 0;
  uint32_t keepalive_ms_;
  uint32_t timeout_ms_;
  Retry retry_ = Retry::kBackoff;
  uint32_t backoff_ms_;
  DurableEnd primary_end_;
  bool primary_known_ = false;
  DurableEnd last_acked_;
  DurableEnd archive_end_;  // the archive's durable end, as this thread last saw it

  // Frames checked and not yet written wait in pending_ until the write job running
  // (at most one) ends; the next job takes them all, so the batch grows with the
  // disk's latency (group commit). At most kMaxHeldBytes wait or are being written:
  // beyond that reading pauses (the sender's window keeps a well-behaved sender far
  // below it).
  struct WriteWork;
  struct HeldChunk {
    uint64_t file_id;
    uint64_t offset;
    std::string raw;
    StreamEnd after;
  };
  static constexpr uint64_t kMaxHeldBytes = 64u << 20;
  // Buffers of written frames, reused for the next ones (no allocation per frame).
  static constexpr size_t kMaxSpares = 4;
  static constexpr size_t kMaxSpareBytes = 4u << 20;
  std::vector<std::string> spare_;
  WriteWork* write_ = nullptr;
  std::vector<HeldChunk> pending_;
  uint64_t pending_bytes_ = 0;
  bool read_paused_ = false;

  uv_timer_t retry_timer_;
  uv_timer_t tick_timer_;
  uv_check_t flush_check_;
  int open_handles_ = 0;
};

}  // namespace tranship::logreceiver
