// IngestJobs: order, bookkeeping of results and errors, the bounded queue, forgetting old
// jobs, and stopping (queued jobs cancelled unrun, the running one stopped at a report).
#include "server/ingest_jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "server/api_error.h"
#include "util/error.h"

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
  IngestJobs jobs(/*max_pending=*/2);
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
  IngestJobs jobs(16, /*keep_finished=*/2);
  for (int i = 0; i < 4; ++i) jobs.run_inline("c", 1, [](const IngestProgressFn&) { return json(); });
  json list = jobs.list();
  EXPECT_EQ(list["data"].size(), 2u);
  EXPECT_FALSE(jobs.get("ingest-1").has_value());
  EXPECT_FALSE(jobs.get("ingest-2").has_value());
  EXPECT_TRUE(jobs.get("ingest-4").has_value());
  EXPECT_FALSE(jobs.get("ingest-x").has_value());
  EXPECT_FALSE(jobs.get("ingest-").has_value());
  EXPECT_FALSE(jobs.get("ingest-99999999999999999999999").has_value());
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
