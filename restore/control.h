#pragma once
// The restore verbs of a stone (docs/standby.md): archive replay, continuous restore,
// restore-status and the checks before commit-restore. Owned by the stone
// (stone/stone.h) and working on its RestoreTarget (restore/target.h); the admin verbs
// (stone/restore_admin.cc) call it, and the stone server wakes continuous restore when a
// logreceiver reports new archive records. Records it applies go into the engine's
// state, and the engine's durable end follows them.
//
// What a stone remembers, in its extent directory, next to the extent:
//   continuous-restore  the archive directories and prefix while continuous restore is
//                       on: a restarted stone resumes it;
//   restore-source      the archive directories and prefix of the last restore (the ids
//                       commit-restore must stay above);
//   restore-gap         the missing tranlog, after a restore stopped at a gap, until a
//                       later restore continues past it.
//
// Thread-safety: every method may be called from any thread; the verbs run one at a
// time.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "restore/archive.h"
#include "restore/continuous.h"

namespace tranship {

// The situations whose remedy names an operator's command: restore states the fact and
// names the situation (Status::WithReason); the stone's command layer adds the remedy
// (stone/stone.h, AddStoneHint). A refusal outside restore mode carries the engine's
// kReasonNotInRestoreMode (engine/restore_mode.h).
inline constexpr char kReasonInContinuousRestore[] = "in-continuous-restore";
inline constexpr char kReasonAlreadyInContinuousRestore[] = "already-in-continuous-restore";
inline constexpr char kReasonLogreceiverLoggedIn[] = "logreceiver-logged-in";
inline constexpr char kReasonUnacceptedGap[] = "unaccepted-gap";
inline constexpr char kReasonRestoreStoppedAtGap[] = "restore-stopped-at-gap";
inline constexpr char kReasonRestoreStoppedAtDamage[] = "restore-stopped-at-damage";

inline constexpr char kContinuousRestoreMarker[] = "continuous-restore";
inline constexpr char kRestoreSourceMarker[] = "restore-source";
inline constexpr char kRestoreGapMarker[] = "restore-gap";
// Removes the three files above (a new state was loaded, or restore mode ended).
Status ForgetRestoreMarkers(Env* env, const std::string& extent_dir);

struct RestoreStatus {
  std::string mode;           // "primary", "commits suspended", "restore mode",
                              // "continuous restore"
  bool restore_mode = false;
  bool continuous = false;    // the continuous restore thread runs
  RestoreProgress progress;   // restored position (restore mode)
  ArchiveSource source;       // of the last restore; empty if none
  std::string stop_reason;    // why the last restore stopped; "" if none did
  std::string gap;            // the missing tranlog after a gap; "" if none
  std::string last_run;       // summary of the last restore-from-* run
  bool lag_known = false;     // the newest complete archived record is known
  DurableEnd archive_end;     // ... and is this one
  uint64_t lag_bytes = 0;
  uint64_t lag_us = 0;
  uint64_t applied = 0;       // records applied since the stone started
};



class RestoreControl {
 public:
  RestoreControl(RestoreTarget* target, Env* env);
  ~RestoreControl();

  // restore-from-archive-logs DIR... [--to-end-of-log N] [--prefix P]: replays until it
  // stops; returns a summary paragraph. A gap, fork or damage is an error whose one-line
  // message says what was applied, where it stopped and what to do.
  Result<std::string> FromArchive(const std::vector<std::string>& dirs,
                                  const std::optional<std::string>& prefix,
                                  uint64_t to_end_of_log);
  // restore-from-current-logs: the same over the stone's own tranlog directories.
  Result<std::string> FromCurrentLogs();
  Result<std::string> StartContinuous(const std::vector<std::string>& dirs,
                                      const std::optional<std::string>& prefix);
  Result<std::string> StopContinuous();
  // Checks (continuous restore, logreceivers logged in, a gap) and leaves restore mode.
  // The new lineage's first file id is above every archived and own id, and at least
  // `min_file_id` (ids the stone used before its files were put back).
  Result<std::string> CommitRestore(bool accept_gap, uint32_t logreceivers_logged_in,
                                    uint64_t min_file_id = 0);

  RestoreStatus GetStatus();
  // Cheap (no file access), for the info request.
  struct Flags {
    bool continuous = false;  // continuous restore runs
    bool gap = false;         // the last restore stopped at a gap
  };
  Flags CurrentFlags() const;
  // An archive notify: wakes continuous restore. Never blocks for long (loop thread).
  void NotifyArchive(const DurableEnd& archive_end);

  // Stone::Open: resume continuous restore if it was on.
  void ResumeAfterOpen();
  // Stone::Close: end continuous restore after its current batch, keeping it remembered.
  void Shutdown();

 private:
  Result<ArchiveSource> SourceFor(const std::vector<std::string>& dirs,
                                  const std::optional<std::string>& prefix,
                                  std::string* prefix_note);
  Result<std::string> Replay(ArchiveSource source, uint64_t to_end_of_log,
                             const std::string& prefix_note);
  // `resuming` (after a restart): the markers are on disk already, so failing to
  // rewrite them is only logged.
  Status StartContinuousLocked(const ArchiveSource& source, uint64_t pending_failover_tid = 0,
                               bool resuming = false);
  void OnContinuousEnd(const ContinuousState& end);
  void SetGap(const std::string& missing);
  std::string Path(const char* marker) const;
  // Writes the restore-source marker (where restored records come from); an IOError
  // that says so if it cannot.
  Status RecordSource(const ArchiveSource& source);
  std::string StoneName() const;

  RestoreTarget* target_;
  Env* env_;
  std::mutex op_mu_;               // one verb at a time
  mutable std::mutex mu_;          // the fields below
  std::unique_ptr<ContinuousRestore> continuous_;
  bool shut_down_ = false;
  ArchiveSource source_;
  std::string stop_reason_;
  std::string gap_;
  std::string last_run_;
  DurableEnd notified_end_;
  bool have_notified_end_ = false;
};

// Text and JSON forms of restore-status.
std::string FormatRestoreStatus(const RestoreStatus& s, const std::string& stone_name);
std::string FormatRestoreStatusJson(const RestoreStatus& s, const std::string& stone_name);

}  // namespace tranship
