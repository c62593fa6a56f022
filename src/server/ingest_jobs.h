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
//
// Replicas (issue 17: any replica can report a job, docs/scaling.md):
//  * Ids are "ingest-" + 16 lowercase hex digits from std::random_device (64 random bits), so
//    replicas never need to agree on a counter and ids cannot be enumerated. get() accepts
//    exactly that form; anything else is unknown without a lookup.
//  * With a shared KvCache (the "ingest" RedisKvCache of --cache redis://...), every job's
//    snapshot (the object get() returns) is put under its id with a 24 h TTL: when it is
//    created, when its status or phase changes, on progress at most every 250 ms, always on
//    its final state, and for every queued or running job every `heartbeat` (10 s) whether
//    or not it progressed (a queued job behind a long one, an inline one waiting for the
//    store's write lock). Puts are serialised (publish_mu_), so an older snapshot never
//    overwrites a newer one.
//  * get() answers from this process's jobs first, then from the shared cache. A job another
//    process left queued or running whose snapshot's `updated_at` is more than 60 s old
//    (6 missed heartbeats) is reported with status "lost": its replica stopped, or cannot
//    reach the cache. "lost" is a reading, not a stored state: if that replica is alive and
//    reaches the cache again, its next heartbeat makes the job "running" again. Clocks of
//    the replicas are assumed to agree within seconds (NTP).
//  * list() is this process's jobs only (a list across replicas would need a scan of the
//    shared cache).
//  * The shared cache never throws (util/kv_cache.h): with Redis down jobs run as before,
//    and another replica's jobs are unknown (404).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/document_ingest.h"
#include "util/kv_cache.h"

namespace ragd::server {

struct IngestJobsOptions {
  size_t max_pending = 16;     // queued jobs beyond this: 503
  size_t keep_finished = 100;  // ended jobs remembered in this process
  std::shared_ptr<KvCache> shared = nullptr;  // null: jobs are known to this process only
  std::chrono::milliseconds heartbeat{10000};  // re-publishing of unfinished jobs (tests shorten it)
};

class IngestJobs {
 public:
  // The ingestion itself: reports progress through the callback (which throws to stop it
  // when the server is stopping) and returns the result object of a finished job.
  using Work = std::function<nlohmann::json(const IngestProgressFn& progress)>;

  // A foreign queued or running job whose snapshot is older than this is reported "lost".
  static constexpr std::chrono::seconds kLostAfter{60};
  // Progress is published at most this often per job (status and phase changes at once).
  static constexpr std::chrono::milliseconds kProgressInterval{250};
  static constexpr std::chrono::hours kSnapshotTtl{24};

  explicit IngestJobs(IngestJobsOptions options = {});
  ~IngestJobs();
  IngestJobs(const IngestJobs&) = delete;
  IngestJobs& operator=(const IngestJobs&) = delete;

  // Queues `work` for `documents` documents of `collection`; returns the job's snapshot
  // (status "queued"). ApiError 503 when max_pending jobs already wait.
  nlohmann::json submit(const std::string& collection, size_t documents, Work work);
  // Runs `work` now on this thread, recorded as a job; returns its result, or rethrows what
  // it threw (the caller maps errors to responses as for any request).
  nlohmann::json run_inline(const std::string& collection, size_t documents, const Work& work);

  // The job's snapshot: this process's job, else the one in the shared cache (status "lost"
  // when stale, above); nullopt for an id of another form, unknown or long forgotten.
  std::optional<nlohmann::json> get(const std::string& id) const;
  // Every job this process knows, newest first.
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
    int64_t published_ms = 0;     // when its snapshot was last taken for the shared cache
    std::string published_phase;  // the phase in that snapshot
  };

  // Records a new queued job with a fresh random id; returns its number (the key in jobs_).
  // mu_ held.
  uint64_t create(const std::string& collection, size_t documents);
  void worker_loop();
  void heartbeat_loop();
  // Runs job number n on this thread; returns the result, rethrows the work's exception.
  nlohmann::json execute(uint64_t n, const Work& work);
  // Applies `change` to job n and publishes the result. Takes publish_mu_, then mu_.
  void update(uint64_t n, const std::function<void(Job&)>& change);
  void finish(Job& job, Status status);  // mu_ held
  static nlohmann::json snapshot(const Job& job);
  // snapshot() of a job about to be published, recording when (mu_ held).
  static nlohmann::json publishing(Job& job);
  // Puts snapshots into the shared cache (publish_mu_ held, mu_ not: a slow cache must not
  // block get() and list()). No-op without one.
  void publish(const std::vector<nlohmann::json>& snapshots);
  static const char* status_name(Status s);

  const size_t max_pending_, keep_finished_;
  const std::shared_ptr<KvCache> shared_;
  const std::chrono::milliseconds heartbeat_;
  // Held from taking a snapshot to publishing it, so snapshots reach the cache in the order
  // they were taken. Lock order: publish_mu_ before mu_.
  std::mutex publish_mu_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t next_seq_ = 1;
  std::random_device random_;  // ids; used with mu_ held
  std::map<uint64_t, Job> jobs_;  // by sequence number: oldest first (list() order)
  std::unordered_map<std::string, uint64_t> by_id_;  // id -> sequence number, for get()
  std::deque<uint64_t> queue_;    // queued job numbers, in submission order
  std::thread worker_, heartbeat_thread_;  // started last, in the constructor's body
};

}  // namespace ragd::server
