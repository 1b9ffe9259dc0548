#pragma once
// The emergency-failover trial, shared by the failover integration test (one fixed
// moment) and the chaos suite (random moments): kill -9 of the primary under load, then
// `tranship failover --emergency` on its standby, and the prefix invariant checked.

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <cstdio>
#include <map>
#include "test/regex.h"
#include <sstream>
#include <thread>

#include "client/client.h"
#include "tranlog/reader.h"
#include "tranlog/commit.h"
#include "test/shipping/cluster.h"

namespace tranship::test {

// HOME:STONE, how `tranship failover` names a stone on another home.
inline std::string Ref(const Host& h, const std::string& stone) { return h.root() + ":" + stone; }

// Each step line: "  TITLE ... 12.3 ms ..." (or "1.23 s").
inline bool StepDone(const std::string& out, const std::string& title) {
  std::regex re("\n  " + std::regex_replace(title, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                R"( \.\.\. [0-9]+\.[0-9]+ (ms|s)\b)");
  return std::regex_search("\n" + out, re);
}

// The ack log: writer -> how many of its transactions were acknowledged.
inline std::map<uint64_t, uint64_t> Acked(const std::string& path) {
  std::map<uint64_t, uint64_t> acked;
  std::istringstream in(ReadAll(path));
  std::string line;
  std::getline(in, line);
  uint64_t w, i;
  while (in >> w >> i) acked[w] = std::max(acked[w], i + 1);
  return acked;
}

// A primary and one standby in continuous restore under a 4-writer load; the primary is
// killed with SIGKILL after `kill_after_acks` acknowledged commits plus `extra_us`, then
// `tranship failover --emergency` makes the standby the primary. Checks that the new
// primary holds exactly a prefix of what the killed primary logged, whole transactions,
// every acknowledged one up to the restored TID, and nothing else.
struct EmergencyOutcome {
  uint64_t acknowledged = 0;     // commits the writers were told of
  uint64_t present_acked = 0;    // of those, on the new primary
  uint64_t left_behind = 0;      // records the old primary logged after the restored TID
};
// `then`, if given, runs on the cluster at the end (the new primary is stone 'standby'
// on standby(0), the killed one 'prod' on the primary host, stopped).
inline EmergencyOutcome EmergencyFailoverTrial(uint64_t kill_after_acks, uint64_t extra_us,
                                               const std::function<void(Cluster&)>& then = {}) {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  std::string ack = c.Temp("ack.log");
  pid_t load = StartWorkload(c, ack, 120);
  REQUIRE(WaitFor([&] { return Acks(ack) >= kill_after_acks; }, kConverge));
  std::this_thread::sleep_for(std::chrono::microseconds(extra_us));  // a random moment
  pid_t stone = c.primary().PidOf("prod.pid");
  REQUIRE(stone > 0);
  kill(stone, SIGKILL);
  REQUIRE(waitpid(load, nullptr, 0) == load);

  Proc f = c.standby(0).Run({"failover", "--emergency", "--standby", "standby", "--primary",
                             Ref(c.primary(), "prod"), "--probe-key", "probe"});
  INFO(f.out);
  REQUIRE(f.code == 0);
  for (std::string title : {"check standby", "stop the logreceiver of standby",
                            "stop-continuous-restore on standby", "restore-status of standby",
                            "commit-restore on standby", "probe write on standby"}) {
    CHECK_MESSAGE(StepDone(f.out, title), title);
  }
  std::smatch m;
  REQUIRE(std::regex_search(f.out, m, std::regex("'standby' is the primary: it holds prod's history up to TID ([0-9]+) ")));
  uint64_t restored = std::stoull(m[1]);
  CHECK(f.out.find("tranlog info of prod's last tranlog:\nfile:") != std::string::npos);

  // What the killed primary logged (its tranlogs end at a torn tail at most) and what
  // its writers were told. The invariant: the new primary holds exactly the workload
  // transactions the primary logged at TIDs up to the restored TID, each whole, and
  // nothing else. So (a) every acknowledged transaction logged at or before the restored
  // TID is present, (b) nothing the primary did not log, or logged later, is present
  // (each writer's candidates are its transactions 0..acked+1: it never sent more), and
  // (c) the key count leaves no room for anything else.
  std::vector<uint64_t> all_tids;                                  // every record
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> logged;  // (writer, i) -> TID
  {
    auto set = tranlog::ListTranlogs(Env::Default(), {c.primary().Path("data/prod/tranlog")},
                                     "tranlog");
    REQUIRE(set.ok());
    for (auto& [id, path] : set->files) {
      auto file = tranlog::FileReader::Open(Env::Default(), path);
      REQUIRE(file.ok());
      tranlog::RecordRef rec;
      while ((*file)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
        all_tids.push_back(rec.header.tid);
        if (rec.header.type != tranlog::RecordType::kCommit) continue;
        REQUIRE(DecodeCommitPayload(rec.payload, [&](WriteOp::Kind, std::string_view key,
                                                     std::string_view) {
          unsigned long long w, i, k;
          if (std::sscanf(std::string(key).c_str(), "wl/%llu/%llu/%llu", &w, &i, &k) == 3) {
            logged[{w, i}] = rec.header.tid;
          }
        }).ok());
      }
    }
  }
  std::map<uint64_t, uint64_t> acked = Acked(ack);
  for (uint64_t w = 0; w < 4; w++) acked[w] += 0;  // a writer may have no ack yet
  REQUIRE(acked.size() == 4);
  for (auto& [w, a] : acked) {
    for (uint64_t i = 0; i < a; i++) REQUIRE_MESSAGE(logged.count({w, i}), w << " " << i);
  }
  REQUIRE(!all_tids.empty());
  CHECK(restored <= all_tids.back());
  uint64_t left = static_cast<uint64_t>(
      std::count_if(all_tids.begin(), all_tids.end(), [&](uint64_t t) { return t > restored; }));
  CHECK(f.out.find(left == 0 ? std::string("Left behind: nothing")
                             : "Left behind: " + std::to_string(left) + " records") !=
        std::string::npos);

  auto client = StoneClient::Connect(c.standby(0).Path("run/standby.sock"), "standby");
  REQUIRE(client.ok());
  uint64_t expected_txns = 0, present_acked = 0;
  for (auto& [w, a] : acked) {
    for (uint64_t i = 0; i <= a + 1; i++) {
      auto it = logged.find({w, i});
      bool expect = it != logged.end() && it->second <= restored;
      expected_txns += expect;
      for (uint64_t k = 0; k < 2; k++) {
        std::string key = "wl/" + std::to_string(w) + "/" + std::to_string(i) + "/" +
                          std::to_string(k);
        auto got = (*client)->Get(key);
        REQUIRE(got.ok());
        INFO(key << " restored TID " << restored);
        REQUIRE(got->found == expect);
        if (expect) CHECK(got->value == "w" + std::to_string(w) + "t" + std::to_string(i));
      }
      present_acked += expect && i < a;
    }
  }
  // 2 keys per transaction, plus the probe key: nothing else exists.
  std::string d = Digest(c.standby(0), "standby");
  CHECK(d.find(" keys " + std::to_string(2 * expected_txns + 1) + " ") != std::string::npos);
  Ok(c.standby(0), {"put", "standby", "after", "emergency"});
  EmergencyOutcome out;
  for (auto& [w, a] : acked) out.acknowledged += a;
  out.present_acked = present_acked;
  out.left_behind = left;
  if (then) then(c);
  return out;
}

}  // namespace tranship::test
