#pragma once
// The C++ client library for a stone: a blocking connection over the stone's Unix
// socket speaking the client protocol (docs/client-protocol.md).
//
// A StoneClient is used by one thread at a time. Transactions are optimistic: Get
// records the version it saw, Commit sends the reads and writes in one request and the
// stone refuses it with a Conflict status if another commit changed a key it read.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tranlog/commit.h"
#include "tranlog/types.h"

namespace tranship {

// The counters of a stone's engine, as the info reply carries them.
struct StoneStats {
  uint64_t commits = 0;         // acknowledged commits since the stone started
  uint64_t conflicts = 0;
  uint64_t batches = 0;         // group-commit batches (= fdatasyncs of tranlogs)
  uint64_t tranlog_bytes = 0;   // bytes appended since the stone started
  uint64_t keys = 0;
  uint64_t last_checkpoint_tid = 0;
  uint64_t last_checkpoint_us = 0;
  bool restore_mode = false;
  bool commits_suspended = false;
  std::string last_error;       // last commit/checkpoint failure, empty if none since
};

// StoneInfo::restore_flags bits.
inline constexpr uint8_t kInfoRestoreContinuous = 1;  // continuous restore runs
inline constexpr uint8_t kInfoRestoreFailover = 2;    // history ends at a failover checkpoint
inline constexpr uint8_t kInfoRestoreGap = 4;         // the last restore stopped at a gap

// What a stone reports about itself (the `info` request).
struct StoneInfo {
  std::string name;
  std::string version;         // tranship version of the server
  uint32_t pid = 0;
  uint64_t started_us = 0;     // when the server began accepting logins
  std::string state;           // "running", "restore mode", "commits suspended", ...
  DurableEnd durable_end;
  StoneStats stats;
  uint32_t logreceivers = 0;   // client connections that said hello as "logreceiver"
  // The newest archive end a logreceiver reported (archive notify); zero if none yet.
  DurableEnd archive_end;
  // Restore mode: the end of the restored history (lineage, position in the archive
  // numbering, TID, chain, commit time); zero on a primary.
  DurableEnd restored;
  uint8_t restore_flags = 0;   // kInfoRestore* above
};

class StoneClient {
 public:
  // Connects to the stone listening on `socket_path`; fails with a one-line status
  // saying what to do ("The stone 'x' is not running. To fix this run 'startstone x'.")
  // when nothing listens there.
  static Result<std::unique_ptr<StoneClient>> Connect(const std::string& socket_path,
                                                      const std::string& stone_name,
                                                      int timeout_ms = 5000);
  ~StoneClient();

  // Single reads and autocommitted writes. Put/Del return the commit's TID.
  Result<ReadResult> Get(std::string_view key);
  Result<uint64_t> Put(std::string_view key, std::string_view value);
  Result<uint64_t> Del(std::string_view key);

  // Commits a transaction built by the caller (reads with the versions seen).
  Result<uint64_t> Commit(const TxnRequest& txn);

  // Admin verbs (checkpoint, start-new-log, file-size-report, digest, ...). On success
  // returns the text to show the operator.
  Result<std::string> Admin(std::string_view verb, const std::vector<std::string>& args = {});

  Result<StoneInfo> Info();

  // Subscribes to the durable end of the tranlog. After this call the connection only
  // delivers durable-end updates: WaitDurableEnd blocks until the next one arrives
  // (or timeout_ms passes: TimedOut).
  Status Subscribe();
  Result<DurableEnd> WaitDurableEnd(int timeout_ms);

  // The socket's file descriptor (for poll loops).
  int fd() const;

 private:
  class Impl;
  explicit StoneClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A transaction on a StoneClient: Get records the version read; Put/Del buffer writes;
// Commit sends everything. Reads of keys this transaction wrote see its own writes.
class Transaction {
 public:
  explicit Transaction(StoneClient* client) : client_(client) {}
  Result<std::optional<std::string>> Get(std::string_view key);
  void Put(std::string_view key, std::string_view value);
  void Del(std::string_view key);
  Result<uint64_t> Commit();
  const TxnRequest& request() const { return txn_; }

 private:
  StoneClient* client_;
  TxnRequest txn_;
};

}  // namespace tranship
