// The backup file format: a round trip, and every kind of damage refused with one line
// that names the file (truncation anywhere, a flipped byte anywhere, wrong magic or
// version, counts that disagree), disk full leaving no file behind.

#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <filesystem>

#include <fmt/format.h>

#include "base/coding.h"
#include "base/env.h"
#include "base/fault_env.h"
#include "restore/backup_format.h"
#include "test/test_util.h"

namespace tranship {
namespace {

using test::TempDir;

StateMap MakeState(int n, size_t value_size = 20) {
  StateMap m;
  for (int i = 0; i < n; i++) {
    std::string v(value_size, static_cast<char>('a' + i % 26));
    m.emplace(fmt::format("key{:06}", i), StateEntry{v + std::to_string(i), uint64_t(100 + i)});
  }
  return m;
}

BackupHeader MakeHeader() {
  BackupHeader h;
  h.lineage = Lineage{0x0123456789abcdefull, 0xfedcba9876543210ull};
  h.tid = 4242;
  h.position = Position{7, 65536};
  h.chain = 0xdeadbeefcafef00dull;
  h.last_commit_us = 1700000000000000ull;
  h.flags = kBackupFlagCommitsSuspended;
  h.stone_name = "prod";
  return h;
}

bool OneLine(const Status& s) { return s.message().find('\n') == std::string::npos; }

// Reads `path` and expects a one-line refusal that names the file.
void ExpectRefused(const std::string& path, const char* what) {
  BackupHeader h;
  StateMap m;
  Status s = ReadBackupFile(Env::Default(), path, &h, &m);
  INFO(what);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find(path) != std::string::npos);
  CHECK(OneLine(s));
}

TEST_CASE("RoundTripKeepsHeaderEntriesAndVersions") {
  TempDir dir;
  std::string path = dir / "b.bak";
  StateMap state = MakeState(1000);
  state.emplace(std::string("bin\0ary", 7), StateEntry{std::string("\0\xff", 2), 9});
  state.emplace("", StateEntry{"empty key", 3});
  std::vector<BackupProgress> reports;
  REQUIRE(WriteBackupFile(Env::Default(), path, MakeHeader(), state,
                          [&](const BackupProgress& p) { reports.push_back(p); })
              .ok());
  CHECK_FALSE(Env::Default()->FileExists(path + ".partial"));
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back().keys_done == state.size());
  CHECK(reports.back().bytes_done == test::FileSize(path));

  BackupHeader h;
  StateMap got;
  std::vector<BackupProgress> read_reports;
  REQUIRE(ReadBackupFile(Env::Default(), path, &h, &got,
                         [&](const BackupProgress& p) { read_reports.push_back(p); })
              .ok());
  BackupHeader want = MakeHeader();
  CHECK(h.lineage == want.lineage);
  CHECK(h.tid == want.tid);
  CHECK(h.position == want.position);
  CHECK(h.chain == want.chain);
  CHECK(h.last_commit_us == want.last_commit_us);
  CHECK(h.flags == want.flags);
  CHECK(h.keys == state.size());
  CHECK(h.created_us > 0);
  CHECK(h.stone_name == "prod");
  REQUIRE(got.size() == state.size());
  for (const auto& [k, e] : state) {
    auto it = got.find(k);
    REQUIRE(it != got.end());
    CHECK(it->second.value == e.value);
    CHECK(it->second.version == e.version);
  }
  REQUIRE_FALSE(read_reports.empty());
  CHECK(read_reports.back().keys_done == state.size());
  CHECK(read_reports.back().bytes_done == read_reports.back().bytes_total);

  auto only_header = ReadBackupHeader(Env::Default(), path);
  REQUIRE(only_header.ok());
  CHECK(only_header->tid == want.tid);
  CHECK(only_header->keys == state.size());
}

TEST_CASE("EmptyStateAndEntriesLargerThanOneChunkRoundTrip") {
  TempDir dir;
  for (int n : {0, 3}) {
    std::string path = dir / fmt::format("b{}.bak", n);
    // 3 values of 3 MB: entries straddle the reader's 4 MiB chunks.
    StateMap state = MakeState(n, 3 << 20);
    REQUIRE(WriteBackupFile(Env::Default(), path, MakeHeader(), state).ok());
    BackupHeader h;
    StateMap got;
    REQUIRE(ReadBackupFile(Env::Default(), path, &h, &got).ok());
    CHECK(got.size() == state.size());
    for (const auto& [k, e] : state) CHECK(got.at(k).value == e.value);
  }
}

TEST_CASE("AnExistingFileIsNeverOverwritten") {
  TempDir dir;
  std::string path = dir / "b.bak";
  test::WriteAll(path, "precious");
  Status s = WriteBackupFile(Env::Default(), path, MakeHeader(), MakeState(3));
  CHECK(s.code() == Status::Code::kAlreadyExists);
  CHECK(s.message().find(path) != std::string::npos);
  CHECK(test::ReadAll(path) == "precious");
}

TEST_CASE("MissingFileIsNotFound") {
  TempDir dir;
  BackupHeader h;
  StateMap m;
  Status s = ReadBackupFile(Env::Default(), dir / "nope.bak", &h, &m);
  CHECK(s.IsNotFound());
  CHECK(s.message().find(dir / "nope.bak") != std::string::npos);
  CHECK(OneLine(s));
}

TEST_CASE("EveryTruncationIsRefused") {
  TempDir dir;
  std::string good = dir / "good.bak";
  REQUIRE(WriteBackupFile(Env::Default(), good, MakeHeader(), MakeState(50)).ok());
  std::string data = test::ReadAll(good);
  std::string path = dir / "cut.bak";
  for (size_t len = 0; len < data.size(); len++) {
    test::WriteAll(path, data.substr(0, len));
    ExpectRefused(path, fmt::format("cut to {} of {} bytes", len, data.size()).c_str());
  }
}

TEST_CASE("AFlippedByteAnywhereIsRefused") {
  TempDir dir;
  std::string good = dir / "good.bak";
  REQUIRE(WriteBackupFile(Env::Default(), good, MakeHeader(), MakeState(50)).ok());
  std::string data = test::ReadAll(good);
  std::string path = dir / "flipped.bak";
  for (size_t off = 0; off < data.size(); off++) {
    std::string d = data;
    d[off] = static_cast<char>(d[off] ^ 0x01);
    test::WriteAll(path, d);
    ExpectRefused(path, fmt::format("bit flipped at offset {}", off).c_str());
  }
}

TEST_CASE("WrongMagicAndVersionAreNamed") {
  TempDir dir;
  std::string path = dir / "b.bak";
  REQUIRE(WriteBackupFile(Env::Default(), path, MakeHeader(), MakeState(5)).ok());
  std::string data = test::ReadAll(path);

  std::string other = data;
  other.replace(0, 8, "TRNSHEXT");  // an extent is not a backup
  test::WriteAll(path, other);
  BackupHeader h;
  StateMap m;
  Status s = ReadBackupFile(Env::Default(), path, &h, &m);
  CHECK(s.IsCorruption());
  CHECK(s.message().find("not a tranship backup") != std::string::npos);

  other = data;
  other[8] = 2;  // version 2
  test::WriteAll(path, other);
  s = ReadBackupFile(Env::Default(), path, &h, &m);
  CHECK(s.code() == Status::Code::kNotSupported);
  CHECK(s.message().find("version 2") != std::string::npos);
  CHECK(s.message().find(path) != std::string::npos);
}

// Rewrites the file with a consistent SHA-256 but counts that disagree: the counts
// themselves must be checked, not only the hash.
TEST_CASE("CountMismatchIsRefusedEvenWithAValidHash") {
  TempDir dir;
  std::string path = dir / "b.bak";
  // A header that claims one key more than the state has.
  StateMap state = MakeState(10);
  REQUIRE(WriteBackupFile(Env::Default(), path, MakeHeader(), state).ok());
  // Drop the last entry's bytes, keep header/trailer counts at 10, re-hash.
  StateMap fewer = state;
  fewer.erase(std::prev(fewer.end()));
  std::string shorter_path = dir / "fewer.bak";
  REQUIRE(WriteBackupFile(Env::Default(), shorter_path, MakeHeader(), fewer).ok());
  std::string full = test::ReadAll(path);
  std::string part = test::ReadAll(shorter_path);
  // Header (with the creation time) from `full`, entries from `part`, trailer count 10.
  size_t header_size = kBackupFixedHeaderSize + 4 + 4;  // "prod" + CRC
  std::string entries = part.substr(header_size, part.size() - header_size - kBackupTrailerSize);
  std::string forged = full.substr(0, header_size) + entries;
  forged.append(kBackupTrailerMagic, 8);
  PutFixed64(&forged, 10);
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(forged.data(), forged.size(), md, &n, EVP_sha256(), nullptr);
  forged.append(reinterpret_cast<char*>(md), n);
  test::WriteAll(path, forged);
  BackupHeader h;
  StateMap m;
  Status s = ReadBackupFile(Env::Default(), path, &h, &m);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("9 entries, but the header counts 10") != std::string::npos);
}

TEST_CASE("DiskFullLeavesNoFileBehind") {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  std::string path = dir / "b.bak";
  StateMap state = MakeState(20000, 400);  // about 8 MB: several chunks
  for (int64_t space : {int64_t{0}, int64_t{100}, int64_t{5 << 20}}) {
    env.SetNoSpace(false);
    env.SetSpaceLeft(space);
    Status s = WriteBackupFile(&env, path, MakeHeader(), state);
    INFO("space left " << space);
    CHECK(s.IsNoSpace());
    CHECK(OneLine(s));
    CHECK(s.message().find(path) != std::string::npos);
    CHECK_FALSE(Env::Default()->FileExists(path));
    CHECK_FALSE(Env::Default()->FileExists(path + ".partial"));
  }
  env.SetSpaceLeft(INT64_MAX);
  env.SetNoSpace(false);
  CHECK(WriteBackupFile(&env, path, MakeHeader(), state).ok());
}

}  // namespace
}  // namespace tranship
