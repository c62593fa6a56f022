// IngestJobs: document ingestion as jobs with progress, so a client can send a large upload,
// get an id back at once (POST .../documents?wait=false -> 202) and poll GET /v1/ingest/{id},
// as with Qdrant's wait=false or OpenAI's vector-store file batches.
//
// Invariants:
//  * Queued jobs run one at a time, in submission order, on one worker thread: writes to the
//    store are serialised anyway, and one job's progress then means something.
//  * At most `max_pending` jobs wait; submit() beyond that is a 503 with Retry-After, never an
//    unbounded queue of documents held in memory.
//  * Synchronous ingests (run_inline) run on the caller's thread but are recorded the same way,
//    so GET /v1/ingest shows every ingestion in progress.
//  * A job's record is kept after it ends (the newest `keep_finished` ended ones), so a client
//    polling late still sees the outcome.
//  * On destruction, waiting jobs are cancelled without touching the store; the running job is
//    stopped at its next progress report. Ingestion commits documents in one transaction and
//    embeds resumably (document_ingest.h), so a stop loses nothing already stored: chunks
//    left without vectors are embedded by the next ingest.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/document_ingest.h"

namespace ragd::server {

class IngestJobs {
 public:
  // The ingestion itself: reports progress through the callback (which throws to stop it
  // when the server is stopping) and returns the result object of a finished job.
  using Work = std::function<nlohmann::json(const IngestProgressFn& progress)>;

  explicit IngestJobs(size_t max_pending = 16, size_t keep_finished = 100);
  ~IngestJobs();
  IngestJobs(const IngestJobs&) = delete;
  IngestJobs& operator=(const IngestJobs&) = delete;

  // Queues `work` for `documents` documents of `collection`; returns the job's snapshot
  // (status "queued"). ApiError 503 when max_pending jobs already wait.
  nlohmann::json submit(const std::string& collection, size_t documents, Work work);
  // Runs `work` now on this thread, recorded as a job; returns its result, or rethrows what
  // it threw (the caller maps errors to responses as for any request).
  nlohmann::json run_inline(const std::string& collection, size_t documents, const Work& work);

  // The job's snapshot, nullopt for an unknown (or long forgotten) id.
  std::optional<nlohmann::json> get(const std::string& id) const;
  // Every known job, newest first.
  nlohmann::json list() const;
  // Jobs queued and not started.
  size_t pending() const;

 private:
  enum class Status { Queued, Running, Completed, Failed, Cancelled };
  struct Job {
    std::string id, collection;
    Status status = Status::Queued;
    IngestProgress progress;
    nlohmann::json result, error;
    int64_t created_ms = 0, started_ms = 0, finished_ms = 0;
    Work work;  // cleared once run: queued documents are freed as soon as they are stored
  };

  // Records a new queued job; returns its number (the key in jobs_). mu_ held.
  uint64_t create(const std::string& collection, size_t documents);
  void worker_loop();
  // Runs job number n on this thread; returns the result, rethrows the work's exception.
  nlohmann::json execute(uint64_t n, const Work& work);
  void finish(Job& job, Status status);  // mu_ held
  static nlohmann::json snapshot(const Job& job);
  static const char* status_name(Status s);

  const size_t max_pending_, keep_finished_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Job> jobs_;  // by sequence number: oldest first
  std::deque<uint64_t> queue_;    // queued job numbers, in submission order
  std::thread worker_;
};

}  // namespace ragd::server
