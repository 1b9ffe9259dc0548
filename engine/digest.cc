#include "engine/digest.h"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "base/coding.h"
#include "engine/state_store.h"

namespace tranship {

Digest ComputeDigest(const StateStore& store) {
  return store.Read([](const StateMap& state, uint64_t tid, const RestoreProgress&) {
    Digest d;
    d.tid = tid;
    d.keys = state.size();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    // The pairs are encoded into a buffer hashed 64 KiB at a time: one digest update
    // per pair would cost more than the hashing itself.
    std::string buf;
    buf.reserve(80 << 10);
    for (const auto& [k, e] : state) {
      PutLengthPrefixed(&buf, k);
      PutLengthPrefixed(&buf, e.value);
      if (buf.size() >= (64 << 10)) {
        EVP_DigestUpdate(ctx, buf.data(), buf.size());
        buf.clear();
      }
    }
    EVP_DigestUpdate(ctx, buf.data(), buf.size());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < n; i++) d.sha256_hex += fmt::format("{:02x}", md[i]);
    return d;
  });
}

}  // namespace tranship
