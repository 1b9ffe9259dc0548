// The logsender's frame builds, private to logsender/: a BuildJob is one step of
// building a frame on libuv's thread pool (the cut, then the compression), started by
// LogSender::StartBuild (build_jobs.cc) and finished on the loop thread, which puts the
// frame into the shared cache (frame_cache.h) for every receiver session to send.
#pragma once

#include <optional>
#include <string>

#include <uv.h>

#include "logsender/frame_builder.h"
#include "logsender/logsender.h"

namespace tranship::logsender {

// One step of building a frame on the thread pool: the cut (read and check the records,
// which fixes where the next frame starts; near the end the compression too), or the
// compression of a cut.
struct LogSender::BuildJob {
  uv_work_t req;
  LogSender* sender = nullptr;
  uint64_t session_id = 0;  // the receiver whose cursor (or read-ahead) asked for it
  Env* env = nullptr;
  std::string path;
  Boundary from;
  DurableEnd end;
  uint32_t target = 0;
  FileSource source;
  uint64_t stop_at = 0;  // a junction in this file (CutFrameAt)
  bool compress_too = false;  // the cut step compresses what it cut in the same job
  uint64_t epoch = 0;  // LogSender::epoch_ when the job started: a later history drops it
  int level = kDefaultZstdLevel;  // LogSenderOptions::zstd_level
  // Cut step: its result. Compress step: the cut to compress, then the frame.
  Result<std::optional<CutFrame>> cut = Status::Aborted("not cut");
  std::optional<BuiltFrame> built;
  void (*work)(BuildJob*) = nullptr;       // on a pool thread
  void (LogSender::*done)(BuildJob*) = nullptr;  // then on the loop thread
};

}  // namespace tranship::logsender
