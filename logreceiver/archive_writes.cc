// Archive writes: checked records are written to the archive tranlogs and made
// durable on libuv's thread pool, one write job at a time, while the loop thread reads
// on. After each fdatasync the receiver acknowledges the durable end to the logsender
// and tells its standby stone (standby_link.cc), which restores up to it.
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "base/clock.h"
#include "base/log.h"
#include "logreceiver/receiver.h"

namespace tranship::logreceiver {

// A write job on the libuv thread pool: appends the checked frames it was given to the
// archive, then makes them durable (fdatasync; the directory's fsync after a create).
// While it runs the job owns the archive; the loop thread goes on receiving, decompressing
// and checking the next frames. The loop thread may also wait for it (a stop or a lost
// link); whichever of that wait and the after-work callback comes first finishes it, and
// the callback frees it.
struct LogReceiver::WriteWork {
  uv_work_t req;
  LogReceiver* receiver = nullptr;
  Archive* archive = nullptr;
  std::vector<HeldChunk> chunks;
  StreamEnd last_after;  // where the archive ends once the chunks are written
  uint64_t bytes = 0;
  // The outcome, set on the pool thread: on failure, what could not be written.
  Status status;
  uint64_t failed_file = 0;
  uint64_t failed_offset = 0;
  uint64_t failed_bytes = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;      // Run returned (guarded by mu)
  bool finished = false;  // FinishWrite ran (loop thread)

  void Run() {
    for (const HeldChunk& c : chunks) {
      status = archive->Append(c.file_id, c.offset, c.raw, c.after);
      if (!status.ok()) {
        failed_file = c.file_id;
        failed_offset = c.offset;
        failed_bytes = c.raw.size();
        return;
      }
    }
    Position at = archive->written_end().pos;
    uint64_t unsynced = archive->unsynced_bytes();
    status = archive->Sync();
    if (!status.ok()) {
      failed_file = at.file_id;
      failed_offset = at.offset;
      failed_bytes = unsynced;
    }
  }
};

std::string LogReceiver::TakeSpare() {
  if (spare_.empty()) return {};
  std::string b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

void LogReceiver::Recycle(std::string&& buffer) {
  if (spare_.size() < kMaxSpares && buffer.capacity() <= kMaxSpareBytes) {
    spare_.push_back(std::move(buffer));
  }
}

StreamEnd LogReceiver::CheckedEnd() const {
  if (!pending_.empty()) return pending_.back().after;
  if (write_ != nullptr) return write_->last_after;
  return archive_.written_end();
}

void LogReceiver::FlushStep() {
  if (write_ != nullptr || pending_.empty()) return;
  if (pending_bytes_ <= opts_.inline_write_bytes) {
    // A few small frames, as while streaming: written here, which costs less than the
    // thread switches of a job, and the standby is told at once, so that it replays
    // them while the fdatasync runs (it reads whatever is complete in the files).
    for (size_t i = 0; i < pending_.size(); i++) {
      HeldChunk& c = pending_[i];
      Status s = archive_.Append(c.file_id, c.offset, c.raw, c.after);
      if (!s.ok()) {
        DiskFull(s, c.raw.size(), c.file_id, c.offset);  // drops pending_
        return;
      }
      Recycle(std::move(c.raw));
    }
    pending_.clear();
    pending_bytes_ = 0;
    if (on_written) on_written(archive_.written_end().ToDurableEnd());
  }
  StartWrite(/*here=*/false);
}

void LogReceiver::StartWrite(bool here) {
  auto* w = new WriteWork;
  w->req.data = w;
  w->receiver = this;
  w->archive = &archive_;
  w->chunks.reserve(pending_.size());
  for (HeldChunk& c : pending_) w->chunks.push_back(std::move(c));
  w->last_after = pending_.empty() ? archive_.written_end() : pending_.back().after;
  w->bytes = pending_bytes_;
  pending_.clear();
  pending_bytes_ = 0;
  write_ = w;
  int rc = here ? -1 : uv_queue_work(
      loop_, &w->req,
      [](uv_work_t* req) {
        auto* w = static_cast<WriteWork*>(req->data);
        w->Run();
        std::lock_guard<std::mutex> l(w->mu);
        w->done = true;
        w->cv.notify_all();
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<WriteWork> w(static_cast<WriteWork*>(req->data));
        if (!w->finished) w->receiver->FinishWrite();
      });
  if (rc != 0) {
    // Asked to, or the pool refused (only for bad arguments): write on this thread.
    w->Run();
    w->done = true;
    FinishWrite();
    delete w;
  }
}

void LogReceiver::WaitForWrite() {
  if (write_ == nullptr) return;
  {
    std::unique_lock<std::mutex> l(write_->mu);
    write_->cv.wait(l, [this] { return write_->done; });
  }
  FinishWrite();
}

void LogReceiver::FinishWrite() {
  WriteWork* w = write_;
  write_ = nullptr;
  w->finished = true;
  for (HeldChunk& c : w->chunks) Recycle(std::move(c.raw));
  w->chunks.clear();
  if (!w->status.ok()) {
    DiskFull(w->status, w->failed_bytes, w->failed_file, w->failed_offset);  // drops pending
    return;
  }
  Synced();
  if (read_paused_ && pending_bytes_ < kMaxHeldBytes) {
    read_paused_ = false;
    if (transport_ && !dropping_) transport_->ResumeReading();
  }
}

uint64_t LogReceiver::WritingBytes() const { return write_ ? write_->bytes : 0; }

void LogReceiver::FlushNow() {
  WaitForWrite();
  if (!pending_.empty()) StartWrite(/*here=*/true);
}

void LogReceiver::Synced() {
  DurableEnd end = archive_end_ = archive_.durable_end().ToDurableEnd();
  if (state_ == State::kDiskFull) {
    TS_LOG_INFO("archive writes succeed again in {}", opts_.archive_dir);
    last_error_.clear();
    if (welcomed_) SetState(State::kStreaming, "space returned");
  }
  // Invariant 4: the Ack follows the fdatasync, never the other way round.
  if (transport_ && welcomed_ && !dropping_) {
    wire::Ack a;
    a.durable = end.pos;
    a.tid = end.tid;
    std::string frame;
    wire::EncodeAck(&frame, a);
    Send(std::move(frame));
    last_acked_ = end;
  }
  if (on_durable) on_durable(end);
}


void LogReceiver::DiskFull(const Status& why, uint64_t needed, uint64_t file_id,
                           uint64_t offset) {
  // Frames held during an fdatasync follow what is cut: the sender sends them again.
  pending_.clear();
  pending_bytes_ = 0;
  Status cut = archive_.CutBack();
  if (!cut.ok()) TS_LOG_ERROR("cannot cut the archive back: {}", cut.ToString());
  const StreamEnd& end = archive_.durable_end();
  archive_end_ = end.ToDurableEnd();
  last_error_ = fmt::format("cannot write the archive in {}: {}", opts_.archive_dir,
                            why.message());
  if (state_ != State::kDiskFull) {
    TS_LOG_ERROR("{} (needed {} bytes for {} at offset {}); not acknowledging, cut back to "
                 "{}; retrying every {} s: free space in {}",
                 last_error_, needed, archive_.FileName(file_id), offset, end.pos.ToString(),
                 opts_.disk_full_retry_ms / 1000.0, opts_.archive_dir);
    SetState(State::kDiskFull, why.IsNoSpace() ? "no space" : "write error");
  } else {
    TS_LOG_DEBUG("still cannot write the archive: {}", why.ToString());
  }
  retry_ = Retry::kDiskFull;
  if (transport_ && !dropping_) {
    dropping_ = true;
    transport_->Close(why);
  }
}

}  // namespace tranship::logreceiver
