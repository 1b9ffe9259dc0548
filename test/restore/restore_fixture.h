#pragma once
// Repositories in a temp dir for restore tests: a primary Engine and standbys seeded in
// restore mode at the very beginning of history (TID 0), or at a copy of the primary.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "engine/engine.h"
#include "stone/stone.h"
#include "restore/control.h"
#include "tranlog/format.h"
#include "test/test_util.h"

namespace tranship::test {

inline TxnRequest PutTxn(const std::string& k, const std::string& v) {
  TxnRequest t;
  t.writes.push_back(WriteOp{WriteOp::Kind::kPut, k, v});
  return t;
}

struct Repo {
  explicit Repo(std::string root) : root(std::move(root)) {}
  std::string root;
  std::string prefix = "tranlog";
  EngineOptions Options() const {
    EngineOptions o;
    o.extent_dir = root + "/extent";
    o.tranlog_dirs = {root + "/tranlog"};
    o.tranlog_prefix = prefix;
    o.checkpoint_interval_s = 0;
    o.stone_name = std::filesystem::path(root).filename();
    return o;
  }
  std::string TranlogDir() const { return root + "/tranlog"; }
  std::string Tranlog(uint64_t id) const {
    return TranlogDir() + "/" + tranlog::FileName(prefix, id);
  }
};

// An open stone: its engine through ->, its restore controller through restore().
struct Opened {
  std::unique_ptr<Stone> stone;
  Engine* operator->() const { return stone->engine(); }
  Engine* get() const { return stone ? stone->engine() : nullptr; }
  RestoreControl* restore() const { return stone->restore(); }
  Stone* target() const { return stone.get(); }
  void reset() { stone.reset(); }
};

inline Opened OpenOrDie(const EngineOptions& o) {
  auto s = Stone::Open(o);
  if (!s.ok()) FAIL(s.status().ToString());
  return Opened{std::move(*s)};
}

// A standby in restore mode before the first record of any history: it can follow any
// primary from its tranlog 1.
inline void SeedEmpty(const Repo& r) {
  RestoredPosition start;
  start.pos = Position{1, tranlog::kFileHeaderSize};
  Status s = Engine::CreateRestoring(r.Options(), StateMap(), start, /*replace=*/false);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
}

// Copies every tranlog of `from` into `dir` under `prefix` (what the warm-standby
// scripts do), optionally leaving out file `skip`.
inline void CopyTranlogs(const Repo& from, const std::string& dir, const std::string& prefix,
                         uint64_t skip = 0) {
  std::filesystem::create_directories(dir);
  for (auto& e : std::filesystem::directory_iterator(from.TranlogDir())) {
    uint64_t id;
    if (!tranlog::ParseFileName(e.path().filename().string(), from.prefix, &id) || id == skip) {
      continue;
    }
    std::filesystem::copy_file(e.path(), dir + "/" + tranlog::FileName(prefix, id),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

inline void CommitN(Engine* e, const std::string& tag, int n) {
  for (int i = 0; i < n; i++) {
    auto t = e->Commit(PutTxn(tag + std::to_string(i % 50), tag + "-" + std::to_string(i)));
    REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  }
}

inline bool SameDigest(Engine* a, Engine* b) {
  Digest da = a->ComputeDigest(), db = b->ComputeDigest();
  return da.tid == db.tid && da.sha256_hex == db.sha256_hex;
}

}  // namespace tranship::test
