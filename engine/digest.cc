#include "engine/digest.h"

#include <openssl/evp.h>

#include <memory>

#include <fmt/format.h>

#include "base/background.h"
#include "base/coding.h"
#include "base/log.h"
#include "engine/state_store.h"

namespace tranship {
namespace {

// Entries hashed per chunk read under the state's lock.
constexpr size_t kScanChunk = 1024;

Result<Digest> DigestOnce(const StateStore& store) {
  std::shared_ptr<SnapshotScan> scan = store.OpenScan([](uint64_t, const RestoreProgress&) {});
  Digest d;
  d.tid = scan->tid();
  d.keys = scan->keys();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                               &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  // The pairs are encoded into a buffer hashed 64 KiB at a time: one digest update
  // per pair would cost more than the hashing itself.
  std::string buf;
  buf.reserve(80 << 10);
  auto put = [&buf](std::string_view key, const StateEntry& e) {
    PutLengthPrefixed(&buf, key);
    PutLengthPrefixed(&buf, e.value);
  };
  for (;;) {
    Result<bool> more = scan->Next(kScanChunk, put);
    if (!more.ok()) return more.status();
    if (buf.size() >= (64 << 10) || !*more) {
      EVP_DigestUpdate(ctx.get(), buf.data(), buf.size());
      buf.clear();
    }
    if (!*more) break;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  for (unsigned i = 0; i < n; i++) d.sha256_hex += fmt::format("{:02x}", md[i]);
  return d;
}

}  // namespace

Digest ComputeDigest(const StateStore& store) {
  Digest out;
  RunInBackground([&] {
    for (;;) {
      Result<Digest> d = DigestOnce(store);
      if (d.ok()) {
        out = std::move(*d);
        return;
      }
      if (d.status().code() == Status::Code::kAborted) continue;  // restore mode began
      TS_LOG_ERROR("digest failed: {}", d.status().ToString());
      return;
    }
  });
  return out;
}

}  // namespace tranship
