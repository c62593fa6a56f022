// IngestJobs: order, bookkeeping of results and errors, the bounded queue, forgetting old
// jobs, and stopping (queued jobs cancelled unrun, the running one stopped at a report);
// random ids checked strictly, and snapshots shared through a KvCache so that another
// IngestJobs (another replica) reports the job, stale ones as "lost".
#include "server/ingest_jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "server/api_error.h"
#include "util/error.h"
#include "util/memory_kv_cache.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// Polls until the job leaves queued/running; fails the test after 30 s.
json wait_ended(const IngestJobs& jobs, const std::string& id) {
  for (int i = 0; i < 3000; ++i) {
    auto j = jobs.get(id);
    if (!j) return json();
    std::string s = (*j)["status"];
    if (s != "queued" && s != "running") return *j;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << id << " did not end";
  return json();
}

// A job that blocks until released, reporting progress while it waits.
struct Gate {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> release_future;  // after `release`: initialised from it
  Gate() : release_future(release.get_future().share()) {}
  IngestJobs::Work work(std::atomic<bool>* stopped = nullptr) {
    return [this, stopped](const IngestProgressFn& progress) {
      IngestProgress p;
      p.phase = "chunking";
      p.documents_total = 2;
      p.documents_processed = 1;
      progress(p);
      started.set_value();
      try {
        while (release_future.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready) progress(p);
      } catch (const Error&) {
        if (stopped) *stopped = true;
        throw;
      }
      return json{{"gate", true}};
    };
  }
};

TEST(IngestJobs, RunsQueuedJobsInOrderAndRecordsResults) {
  IngestJobs jobs;
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    json j = jobs.submit("c", 1, [&, i](const IngestProgressFn& progress) {
      IngestProgress p;
      p.documents_total = 1;
      p.documents_processed = 1;
      p.phase = "done";
      progress(p);
      std::lock_guard lock(mu);
      order.push_back(i);
      return json{{"n", i}};
    });
    EXPECT_EQ(j["object"], "ingest.job");
    EXPECT_EQ(j["documents"]["total"], 1);
    ids.push_back(j["id"]);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    json j = wait_ended(jobs, ids[i]);
    EXPECT_EQ(j["status"], "completed");
    EXPECT_EQ(j["result"]["n"], static_cast<int>(i));
    EXPECT_EQ(j["progress"], 1.0);
    EXPECT_FALSE(j.contains("error"));
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  json list = jobs.list();
  ASSERT_EQ(list["data"].size(), 5u);
  EXPECT_EQ(list["data"][0]["id"], ids.back());  // newest first
  EXPECT_EQ(jobs.pending(), 0u);
}

TEST(IngestJobs, InlineJobsRethrowAndRecordTheirError) {
  IngestJobs jobs;
  EXPECT_EQ(jobs.run_inline("c", 3, [](const IngestProgressFn&) { return json{{"ok", 1}}; })["ok"], 1);
  EXPECT_THROW(jobs.run_inline("c", 3, [](const IngestProgressFn&) -> json { fail("document 'x' has no text"); }),
               Error);
  json list = jobs.list();
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][0]["status"], "failed");
  EXPECT_EQ(list["data"][0]["error"]["message"], "document 'x' has no text");
  EXPECT_EQ(list["data"][1]["status"], "completed");
}

TEST(IngestJobs, BackgroundFailureIsRecorded) {
  IngestJobs jobs;
  json j = jobs.submit("c", 1, [](const IngestProgressFn&) -> json { throw ApiError(404, "no such model"); });
  json done = wait_ended(jobs, j["id"]);
  EXPECT_EQ(done["status"], "failed");
  EXPECT_EQ(done["error"]["message"], "no such model");
  EXPECT_FALSE(done.contains("result"));
}

TEST(IngestJobs, ProgressIsVisibleWhileRunning) {
  IngestJobs jobs;
  Gate gate;
  json j = jobs.submit("c", 2, gate.work());
  gate.started.get_future().wait();
  json running = *jobs.get(j["id"]);
  EXPECT_EQ(running["status"], "running");
  EXPECT_EQ(running["phase"], "chunking");
  EXPECT_EQ(running["documents"]["processed"], 1);
  EXPECT_DOUBLE_EQ(running["progress"].get<double>(), 0.5);
  gate.release.set_value();
  EXPECT_EQ(wait_ended(jobs, j["id"])["status"], "completed");
}

TEST(IngestJobs, QueueIsBounded) {
  IngestJobs jobs({.max_pending = 2});
  Gate gate;
  json first = jobs.submit("c", 1, gate.work());
  gate.started.get_future().wait();  // the worker holds the first job; the queue is empty
  auto noop = [](const IngestProgressFn&) { return json::object(); };
  json a = jobs.submit("c", 1, noop);
  json b = jobs.submit("c", 1, noop);
  EXPECT_EQ(jobs.pending(), 2u);
  try {
    jobs.submit("c", 1, noop);
    ADD_FAILURE() << "a third waiting job was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_GT(e.retry_after(), 0);
  }
  gate.release.set_value();
  EXPECT_EQ(wait_ended(jobs, first["id"])["status"], "completed");
  EXPECT_EQ(wait_ended(jobs, a["id"])["status"], "completed");
  EXPECT_EQ(wait_ended(jobs, b["id"])["status"], "completed");
  EXPECT_EQ(jobs.pending(), 0u);
}

TEST(IngestJobs, ForgetsTheOldestEndedJobs) {
  IngestJobs jobs({.keep_finished = 2});
  for (int i = 0; i < 4; ++i) jobs.run_inline("c", 1, [](const IngestProgressFn&) { return json(); });
  json list = jobs.list();
  ASSERT_EQ(list["data"].size(), 2u);
  for (const auto& j : list["data"]) EXPECT_TRUE(jobs.get(j["id"]).has_value());
  // The first job's id is no longer known: record ids as they are made.
  std::string first;
  jobs.run_inline("c", 1, [&](const IngestProgressFn&) {
    first = jobs.list()["data"][0]["id"];
    return json();
  });
  for (int i = 0; i < 2; ++i) jobs.run_inline("c", 1, [](const IngestProgressFn&) { return json(); });
  EXPECT_FALSE(jobs.get(first).has_value());
  EXPECT_EQ(jobs.list()["data"].size(), 2u);
}

TEST(IngestJobs, IdsAreRandomHexAndUnique) {
  IngestJobs jobs({.max_pending = 300});
  Gate gate;
  jobs.submit("c", 1, gate.work());
  gate.started.get_future().wait();  // the rest stay queued: their ids are all known at once
  const std::regex form("ingest-[0-9a-f]{16}");
  std::set<std::string> ids;
  std::vector<std::string> order;
  for (int i = 0; i < 200; ++i) {
    std::string id = jobs.submit("c", 1, [](const IngestProgressFn&) { return json(); })["id"];
    EXPECT_TRUE(std::regex_match(id, form)) << id;
    ids.insert(id);
    order.push_back(id);
  }
  EXPECT_EQ(ids.size(), 200u);
  // Not a counter: consecutive ids differ in many of their 64 bits.
  int low_distance = 0;
  for (size_t i = 1; i < order.size(); ++i) {
    const uint64_t a = std::stoull(order[i - 1].substr(7), nullptr, 16), b = std::stoull(order[i].substr(7), nullptr, 16);
    low_distance += __builtin_popcountll(a ^ b) < 12;
  }
  EXPECT_LT(low_distance, 5);
  // Listing keeps submission order (newest first), whatever the ids.
  json list = jobs.list();
  ASSERT_EQ(list["data"].size(), 201u);
  EXPECT_EQ(list["data"][0]["id"], order.back());
  EXPECT_EQ(list["data"][199]["id"], order.front());
  gate.release.set_value();
  EXPECT_EQ(wait_ended(jobs, order.back())["status"], "completed");
}

TEST(IngestJobs, HostileIdsAreUnknown) {
  auto cache = std::make_shared<MemoryKvCache>();
  IngestJobs jobs({.shared = cache});
  json j = jobs.submit("c", 1, [](const IngestProgressFn&) { return json(); });
  const std::string id = j["id"];
  ASSERT_TRUE(jobs.get(id).has_value());
  std::string upper = id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string nul_inside = id.substr(0, 10) + std::string(1, '\0') + id.substr(11);
  for (const std::string& bad :
       {std::string(), std::string("ingest-"), std::string("ingest-1"), std::string("ingest-x"), id + "0",
        id.substr(0, id.size() - 1), "INGEST-" + id.substr(7), upper, id + "/../x", " " + id, nul_inside,
        std::string("ingest-99999999999999999999999"), std::string("ingest-000000000000000g"),
        std::string(100000, 'a'), std::string("ingest-") + std::string(16, '\xff')}) {
    EXPECT_FALSE(jobs.get(bad).has_value()) << bad.substr(0, 40);
  }
  // An id of the right form that nobody made.
  EXPECT_FALSE(jobs.get("ingest-0123456789abcdef").has_value());
  // Garbage under a valid id in the shared cache (not written by IngestJobs) is unknown too.
  for (const char* junk : {"", "not json", "[]", "{\"id\": 5}", "{\"id\": \"ingest-00000000000000aa\"}"}) {
    cache->put("ingest-00000000000000aa", junk);
    EXPECT_FALSE(jobs.get("ingest-00000000000000aa").has_value()) << junk;
  }
  // A snapshot stored under another id is not served for this one.
  cache->put("ingest-00000000000000bb", *cache->get(id));
  EXPECT_FALSE(jobs.get("ingest-00000000000000bb").has_value());
}

// A KvCache that counts puts, to see the progress throttle.
class CountingCache final : public KvCache {
 public:
  std::optional<std::string> get(std::string_view key) override { return inner_.get(key); }
  void put(std::string_view key, std::string_view value, Ttl ttl) override {
    ++puts;
    last_ttl = ttl;
    inner_.put(key, value, ttl);
  }
  void erase(std::string_view key) override { inner_.erase(key); }
  void clear() override { inner_.clear(); }
  KvCacheStats stats() const override { return inner_.stats(); }
  std::string location() const override { return "counting"; }
  std::atomic<int> puts{0};
  Ttl last_ttl;

 private:
  MemoryKvCache inner_;
};

TEST(IngestJobs, SnapshotsAreReadableThroughAnotherReplica) {
  auto cache = std::make_shared<MemoryKvCache>();
  IngestJobs a({.shared = cache}), b({.shared = cache});
  Gate gate;
  json j = a.submit("notes", 2, gate.work());
  const std::string id = j["id"];
  // Queued: published at once, before the worker picks it up.
  auto seen = b.get(id);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ((*seen)["collection"], "notes");
  gate.started.get_future().wait();
  seen = b.get(id);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ((*seen)["status"], "running");
  EXPECT_EQ((*seen)["phase"], "chunking");  // a phase change is published without waiting
  EXPECT_EQ((*seen)["documents"]["processed"], 1);
  EXPECT_TRUE((*seen)["updated_at"].is_number_integer());
  EXPECT_TRUE(b.list()["data"].empty());  // listing is per replica
  gate.release.set_value();
  EXPECT_EQ(wait_ended(a, id)["status"], "completed");
  // The final state is published (just after a records it): b then sees what a reports.
  json final_b = wait_ended(b, id), final_a = *a.get(id);
  EXPECT_EQ(final_b["status"], "completed");
  EXPECT_EQ(final_b["result"], json({{"gate", true}}));
  EXPECT_EQ(final_b["progress"], final_a["progress"]);
  EXPECT_EQ(final_b["finished_at"], final_a["finished_at"]);
  // Failures too, with their error.
  json f = a.submit("notes", 1, [](const IngestProgressFn&) -> json { throw ApiError(404, "no such model"); });
  json failed = wait_ended(b, f["id"]);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["error"]["message"], "no such model");
}

TEST(IngestJobs, ProgressIsPublishedThrottledWithATtl) {
  auto cache = std::make_shared<CountingCache>();
  std::atomic<int> reports{0};
  {
    IngestJobs a({.shared = cache, .heartbeat = std::chrono::hours(1)});
    json j = a.submit("c", 1000, [&](const IngestProgressFn& progress) {
      IngestProgress p;
      p.phase = "chunking";
      p.documents_total = 1000;
      const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
      while (std::chrono::steady_clock::now() < end) {
        p.documents_processed = std::min<size_t>(p.documents_processed + 1, 999);
        progress(p);
        ++reports;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return json::object();
    });
    EXPECT_EQ(wait_ended(a, j["id"])["status"], "completed");
  }  // joined: the final put is done
  // queued, running, the phase change, 600 ms of progress at most every 250 ms, the final
  // state: about 6 puts for hundreds of reports.
  EXPECT_GT(reports.load(), 100);
  EXPECT_GE(cache->puts.load(), 4);
  EXPECT_LE(cache->puts.load(), 8);
  ASSERT_TRUE(cache->last_ttl.has_value());
  EXPECT_EQ(*cache->last_ttl, IngestJobs::kSnapshotTtl);
}

TEST(IngestJobs, HeartbeatRepublishesWaitingJobs) {
  auto cache = std::make_shared<MemoryKvCache>();
  IngestJobs a({.shared = cache, .heartbeat = std::chrono::milliseconds(20)});
  Gate gate;
  json running = a.submit("c", 2, gate.work());
  json queued = a.submit("c", 1, [](const IngestProgressFn&) { return json(); });
  gate.started.get_future().wait();
  // Gone from the cache (e.g. Redis restarted empty): the next heartbeat puts both back.
  cache->erase(running["id"].get<std::string>());
  cache->erase(queued["id"].get<std::string>());
  bool back = false;
  for (int i = 0; i < 500 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    back = cache->get(running["id"].get<std::string>()) && cache->get(queued["id"].get<std::string>());
  }
  EXPECT_TRUE(back);
  EXPECT_EQ(json::parse(*cache->get(queued["id"].get<std::string>()))["status"], "queued");
  gate.release.set_value();
  EXPECT_EQ(wait_ended(a, queued["id"])["status"], "completed");
}

TEST(IngestJobs, AStaleForeignJobIsLost) {
  auto cache = std::make_shared<MemoryKvCache>();
  IngestJobs b({.shared = cache});
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto foreign = [&](const std::string& id, const std::string& status, int64_t age) {
    json s = {{"id", id}, {"object", "ingest.job"}, {"collection", "c"}, {"status", status},
              {"phase", "embedding"}, {"progress", 0.5}, {"updated_at", now - age}};
    cache->put(id, s.dump());
  };
  const int64_t bound = IngestJobs::kLostAfter.count();
  foreign("ingest-000000000000000a", "running", bound + 30);
  foreign("ingest-000000000000000b", "running", 5);
  foreign("ingest-000000000000000c", "queued", bound + 30);
  foreign("ingest-000000000000000d", "completed", 3 * bound);
  json lost = *b.get("ingest-000000000000000a");
  EXPECT_EQ(lost["status"], "lost");
  EXPECT_EQ(lost["error"]["type"], "lost");
  EXPECT_EQ(lost["progress"], 0.5);  // the last known progress is kept
  EXPECT_EQ(b.get("ingest-000000000000000b")->at("status"), "running");
  EXPECT_EQ(b.get("ingest-000000000000000c")->at("status"), "lost");
  EXPECT_EQ(b.get("ingest-000000000000000d")->at("status"), "completed");  // ended jobs do not age
}

TEST(IngestJobs, StoppingPublishesCancelledJobs) {
  auto cache = std::make_shared<MemoryKvCache>();
  IngestJobs b({.shared = cache});
  std::string running_id, queued_id;
  Gate gate;
  {
    IngestJobs a({.shared = cache});
    running_id = a.submit("c", 2, gate.work())["id"];
    gate.started.get_future().wait();
    queued_id = a.submit("c", 1, [](const IngestProgressFn&) { return json(); })["id"];
  }
  EXPECT_EQ(b.get(running_id)->at("status"), "cancelled");
  EXPECT_EQ(b.get(queued_id)->at("status"), "cancelled");
}

TEST(IngestJobs, WithoutASharedCacheForeignIdsAreUnknown) {
  IngestJobs a, b;
  json j = a.submit("c", 1, [](const IngestProgressFn&) { return json(); });
  EXPECT_EQ(wait_ended(a, j["id"])["status"], "completed");
  EXPECT_FALSE(b.get(j["id"]).has_value());
}

TEST(IngestJobs, StoppingCancelsQueuedJobsAndStopsTheRunningOne) {
  std::atomic<bool> stopped{false}, queued_ran{false};
  Gate gate;
  {
    IngestJobs jobs;
    jobs.submit("c", 2, gate.work(&stopped));
    gate.started.get_future().wait();
    jobs.submit("c", 1, [&](const IngestProgressFn&) {
      queued_ran = true;
      return json();
    });
  }  // never released: the destructor must stop the running job through its progress report
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(queued_ran);
}

}  // namespace
}  // namespace ragd::server
