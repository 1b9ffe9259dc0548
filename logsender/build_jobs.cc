// Building frames: a receiver's cursor asks for the frame at its position, a cut job
// reads and checks the records on the thread pool, a compress job compresses the cut,
// and the loop thread caches the frame, which SendData (logsender.cc) then sends to
// every receiver at that position. A failed read rescans the disk (history_changes.cc).
#include <fmt/format.h>

#include "base/log.h"
#include "logsender/build_job.h"

namespace tranship::logsender {

namespace {
// One zstd context per thread that compresses (the pool's, and the loop thread for a
// small frame at the end), kept for the life of the process.
wire::Compressor& PoolCompressor() {
  thread_local wire::Compressor compressor(kDefaultZstdLevel);
  return compressor;
}
}  // namespace

void LogSender::StartBuild(ReceiverSession* s) {
  const Boundary at = s->cursor();
  if (building_.count(at.pos)) return;  // another receiver's build serves this one too
  std::optional<std::string> path = history_.PathOf(at.pos.file_id);
  if (!path) {
    s->Refuse({wire::RefuseCode::kTranlogGone,
               fmt::format("tranlog {} ({}), which this standby needs next, is no longer on "
                           "the primary. Reseed this standby from a new backup of the primary.",
                           at.pos.file_id, history_.FileName(at.pos.file_id))});
    return;
  }
  StartCut(s->id(), at, *path, std::move(*s->source()));
}

void LogSender::StartCut(uint64_t session_id, const Boundary& at, const std::string& path,
                         FileSource source) {
  auto* job = new BuildJob;
  job->req.data = job;
  job->sender = this;
  job->session_id = session_id;
  job->env = env_;
  job->path = path;
  job->from = at;
  job->end = end_;
  job->target = opts_.frame_target;
  job->level = opts_.zstd_level;
  job->epoch = epoch_;
  if (const CurrentHistory* cur = Current()) {
    if (std::optional<Junction> j = cur->JunctionInFile(at.pos.file_id, at.pos.offset)) {
      job->stop_at = j->parent_end.offset;
    }
  }
  job->source = std::move(source);
  building_.insert(at.pos);
  // Near the end a frame is small and awaited: one job, one hop to the pool and back.
  auto it = sessions_.find(session_id);
  job->compress_too = it != sessions_.end() && it->second->state() != ReceiverState::kCatchUp;
  const bool here = job->compress_too && at.pos.file_id == end_.pos.file_id &&
                    end_.pos.offset - at.pos.offset <= kInlineBytes;
  Queue(job,
        [](BuildJob* j) {
          j->cut = CutFrameAt(j->env, j->path, j->from, j->end, j->target, &j->source, j->stop_at);
          if (j->compress_too && j->cut.ok() && j->cut->has_value()) {
            j->built = CompressFrame(std::move(**j->cut), &PoolCompressor(), j->level);
          }
        },
        &LogSender::FinishCut, here);
}

void LogSender::Queue(BuildJob* job, void (*work)(BuildJob*), void (LogSender::*done)(BuildJob*),
                      bool here) {
  jobs_in_flight_++;  // EndJob counts it off
  builds_of_[job->session_id]++;
  job->work = work;
  job->done = done;
  if (here) {
    // Called from SendData, which stops after starting a build: `done` sending the
    // frame (and building the next, if any) from here does not confuse it.
    stats_.frames_built_here++;
    work(job);
    (this->*done)(job);
    return;
  }
  int rc = uv_queue_work(
      loop_, &job->req,
      [](uv_work_t* req) {
        auto* j = static_cast<BuildJob*>(req->data);
        j->work(j);
      },
      [](uv_work_t* req, int) {
        auto* j = static_cast<BuildJob*>(req->data);
        (j->sender->*(j->done))(j);
      });
  if (rc != 0) {
    // Only fails for bad arguments; do the work here rather than stall.
    work(job);
    (this->*done)(job);
  }
}

bool LogSender::EndJob(BuildJob* job) {
  jobs_in_flight_--;
  auto b = builds_of_.find(job->session_id);
  if (b != builds_of_.end() && --b->second == 0) builds_of_.erase(b);
  if (stopping_) {
    building_.erase(job->from.pos);
    MaybeFinishStop();
    return false;
  }
  return true;
}

void LogSender::FinishCut(BuildJob* job) {
  std::unique_ptr<BuildJob> owned(job);
  auto it = sessions_.find(job->session_id);
  ReceiverSession* s = it == sessions_.end() ? nullptr : it->second.get();
  if (!EndJob(job)) return;
  if (Stale(job)) {
    if (s != nullptr) *s->source() = FileSource();  // it read the history forgotten
    SendDataToAll();
    return;
  }
  if (job->built) {  // cut and compressed in one job
    if (s != nullptr) *s->source() = std::move(job->source);
    history_.Remember(job->built->next);
    CacheFrame(job);
    return;
  }
  if (!job->cut.ok() || !job->cut->has_value()) {
    building_.erase(job->from.pos);
    if (s != nullptr) *s->source() = std::move(job->source);
    if (!job->cut.ok()) {
      FailBuild(job->from.pos, job->cut.status());
      return;
    }
    nothing_until_[job->from.pos] = job->end.pos;
    SendDataToAll();
    return;
  }
  const Boundary next = (*job->cut)->next;
  history_.Remember(next);

  // Compress it on the pool; the position stays in building_ until the frame is cached.
  auto* z = new BuildJob;
  z->req.data = z;
  z->sender = this;
  z->session_id = job->session_id;
  z->from = job->from;
  z->cut = std::move(job->cut);
  z->level = opts_.zstd_level;
  z->epoch = job->epoch;
  Queue(z,
        [](BuildJob* j) {
          j->built = CompressFrame(std::move(**j->cut), &PoolCompressor(), j->level);
        },
        &LogSender::FinishCompress);

  // Read ahead for a receiver catching up: the next cut starts now, so the frames of
  // one receiver are compressed side by side instead of one after the other. Only a few
  // frames ahead of what it was sent: frames built further ahead than the link takes
  // them would push each other out of the cache and be built again.
  if (s != nullptr && s->state() == ReceiverState::kCatchUp && next.pos < end_.pos &&
      BuildsOf(s->id()) < kBuildsAhead && !building_.count(next.pos) &&
      !cache_.Find(next.pos) && !JunctionAhead(next) &&
      history_.Distance(s->cursor().pos, next.pos) < uint64_t{kBuildsAhead} * opts_.frame_target) {
    if (std::optional<std::string> path = history_.PathOf(next.pos.file_id)) {
      stats_.frames_read_ahead++;
      StartCut(s->id(), next, *path, std::move(job->source));
      return;
    }
  }
  if (s != nullptr) *s->source() = std::move(job->source);
}

void LogSender::FinishCompress(BuildJob* job) {
  std::unique_ptr<BuildJob> owned(job);
  if (!EndJob(job)) return;
  if (Stale(job)) return SendDataToAll();
  CacheFrame(job);
}

bool LogSender::Stale(BuildJob* job) {
  if (job->epoch == epoch_) return false;
  building_.erase(job->from.pos);
  return true;
}

void LogSender::CacheFrame(BuildJob* job) {
  building_.erase(job->from.pos);
  stats_.frames_built++;
  if (!(job->built->header.flags & wire::kDataZstd)) stats_.frames_uncompressed++;
  std::optional<Position> needed_from;
  for (auto& [id, s] : sessions_) {
    if (s->welcomed() && (!needed_from || s->cursor().pos < *needed_from)) {
      needed_from = s->cursor().pos;
    }
  }
  cache_.Insert(std::make_shared<const BuiltFrame>(std::move(*job->built)),
                needed_from.value_or(Position{}));
  SendDataToAll();
}

int LogSender::BuildsOf(uint64_t session_id) const {
  auto it = builds_of_.find(session_id);
  return it == builds_of_.end() ? 0 : it->second;
}

bool LogSender::JunctionAhead(const Boundary& at) {
  const CurrentHistory* cur = Current();
  return cur == nullptr || cur->JunctionAt(at).has_value();
}

void LogSender::FailBuild(const Position& from, const Status& st) {
  auto stuck_at = [&] {
    std::vector<ReceiverSession*> stuck;
    for (auto& [id, s] : sessions_) {
      if (s->welcomed() && s->cursor().pos == from) stuck.push_back(s.get());
    }
    return stuck;
  };
  if (stuck_at().empty()) {
    // A read-ahead: the cut runs again (and is reported) when a receiver gets there.
    TS_LOG_DEBUG("reading ahead at {} failed: {}", from.ToString(), st.ToString());
    return;
  }
  // A file that ends before what was durable in it, or is gone, may have been put back
  // to an earlier state under this logsender: then the receivers past that state are
  // told so, not that a tranlog is gone.
  if (std::optional<DurableEnd> disk = RescanDisk()) {
    if (disk->lineage != end_.lineage) {
      OnDurableEnd(*disk, false);
    } else if (Rewound(*disk)) {
      Rewind(*disk);
    }
  }
  std::vector<ReceiverSession*> stuck = stuck_at();
  if (stuck.empty()) return;
  TS_LOG_ERROR("cannot ship from {}: {}", from.ToString(), st.ToString());
  for (ReceiverSession* s : stuck) {
    s->Refuse({wire::RefuseCode::kTranlogGone,
               fmt::format("the primary cannot ship from {}: {}", from.ToString(), st.message())});
  }
}

}  // namespace tranship::logsender
