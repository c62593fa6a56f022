#include "server/ingest_jobs.h"

#include <chrono>
#include <cstdio>
#include <exception>

#include "server/api_error.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::server {
namespace {

constexpr std::string_view kIdPrefix = "ingest-";
constexpr size_t kIdDigits = 16;  // 64 random bits in lowercase hex

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// "ingest-" + exactly 16 lowercase hex digits: the only form create() makes. Checked before
// any lookup, so a hostile id never reaches the shared cache.
bool valid_job_id(const std::string& id) {
  if (id.size() != kIdPrefix.size() + kIdDigits || id.compare(0, kIdPrefix.size(), kIdPrefix) != 0) return false;
  for (size_t i = kIdPrefix.size(); i < id.size(); ++i) {
    const char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool unfinished(const std::string& status) { return status == "queued" || status == "running"; }

// A snapshot another process put in the shared cache, checked (it is data from outside this
// process: a mangled or mismatched entry is treated as unknown) and aged: an unfinished job
// not refreshed for IngestJobs::kLostAfter is reported "lost" (ingest_jobs.h).
std::optional<nlohmann::json> read_shared(const std::string& id, const std::string& bytes, int64_t now_s) {
  nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  auto has_string = [&](const char* key) { return j.contains(key) && j[key].is_string(); };
  if (!j.is_object() || !has_string("id") || j["id"] != id || !has_string("object") || j["object"] != "ingest.job" ||
      !has_string("status") || !has_string("collection") || !j.contains("updated_at") ||
      !j["updated_at"].is_number_integer()) {
    log::warn("ingestion job {}: the shared cache holds no valid snapshot of it; treated as unknown", id);
    return std::nullopt;
  }
  const int64_t age = now_s - j["updated_at"].get<int64_t>();
  if (unfinished(j["status"].get<std::string>()) && age > IngestJobs::kLostAfter.count()) {
    j["status"] = "lost";
    j["error"] = {{"type", "lost"},
                  {"message", "the replica running this job has not reported for " + std::to_string(age) +
                                  " s (it stopped, or cannot reach the shared cache). Documents are stored in one "
                                  "transaction and chunks left without vectors are embedded by the next ingest: "
                                  "send the documents again to be sure (unchanged ones are skipped)"}};
  }
  return j;
}

nlohmann::json error_json(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const ApiError& e) {
    return e.body()["error"];
  } catch (const std::exception& e) {
    // Job status is shown to clients: no SQL or server paths (the log has the detail).
    if (is_storage_error(e.what())) return {{"message", "the document store failed (details in the server log)"}, {"type", "ingestion_error"}};
    return {{"message", redact_paths(e.what())}, {"type", "ingestion_error"}};
  }
}

}  // namespace

IngestJobs::IngestJobs(IngestJobsOptions options)
    : max_pending_(options.max_pending),
      keep_finished_(options.keep_finished),
      shared_(std::move(options.shared)),
      heartbeat_(options.heartbeat) {
  worker_ = std::thread([this] { worker_loop(); });
  if (shared_) heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
}

IngestJobs::~IngestJobs() {
  {
    std::lock_guard publish_lock(publish_mu_);
    std::vector<nlohmann::json> cancelled;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (uint64_t n : queue_) {
        Job& job = jobs_.at(n);
        job.error = {{"message", "the server stopped before this job ran; nothing was stored"},
                     {"type", "cancelled"}};
        finish(job, Status::Cancelled);
        cancelled.push_back(publishing(job));
      }
      queue_.clear();
    }
    publish(cancelled);
  }
  wake_.notify_all();
  worker_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

uint64_t IngestJobs::create(const std::string& collection, size_t documents) {
  std::string id;
  do {
    // 64 bits straight from the OS's generator: unique across replicas in practice (among
    // a million jobs within the snapshots' 24 h, a collision has odds of about 1 in 37
    // million); unique within this process, checked here.
    const uint64_t r = (static_cast<uint64_t>(random_()) << 32) ^ random_();
    char hex[kIdDigits + 1];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
    id = std::string(kIdPrefix) + hex;
  } while (by_id_.count(id));
  const uint64_t n = next_seq_++;
  Job& job = jobs_[n];
  job.id = id;
  job.collection = collection;
  job.progress.documents_total = documents;
  job.created_ms = now_ms();
  by_id_[id] = n;
  return n;
}

nlohmann::json IngestJobs::submit(const std::string& collection, size_t documents, Work work) {
  nlohmann::json out;
  {
    std::lock_guard publish_lock(publish_mu_);
    std::unique_lock lock(mu_);
    if (stopping_) throw ApiError(503, "the server is stopping");
    if (queue_.size() >= max_pending_) {
      throw ApiError(503, "too many ingestion jobs are waiting (" + std::to_string(max_pending_) +
                              "); retry later or poll GET /v1/ingest")
          .with_retry_after(5);
    }
    const uint64_t n = create(collection, documents);
    Job& job = jobs_.at(n);
    job.work = std::move(work);
    queue_.push_back(n);
    out = publishing(job);
    lock.unlock();
    publish({out});
  }
  wake_.notify_all();
  return out;
}

nlohmann::json IngestJobs::run_inline(const std::string& collection, size_t documents, const Work& work) {
  uint64_t n = 0;
  {
    std::lock_guard publish_lock(publish_mu_);
    std::unique_lock lock(mu_);
    n = create(collection, documents);
    nlohmann::json queued = publishing(jobs_.at(n));
    lock.unlock();
    publish({queued});
  }
  return execute(n, work);
}

void IngestJobs::update(uint64_t n, const std::function<void(Job&)>& change) {
  std::lock_guard publish_lock(publish_mu_);
  std::unique_lock lock(mu_);
  Job& job = jobs_.at(n);  // a queued or running job is never forgotten (finish())
  change(job);
  nlohmann::json s = publishing(job);
  lock.unlock();
  publish({s});
}

nlohmann::json IngestJobs::execute(uint64_t n, const Work& work) {
  update(n, [](Job& job) {
    job.status = Status::Running;
    job.started_ms = now_ms();
  });
  // Records progress; throws once the server is stopping, except for the final report (the
  // work is complete by then and its result should be recorded). Published when the phase
  // changes and otherwise at most every kProgressInterval.
  auto progress = [this, n](const IngestProgress& p) {
    std::unique_lock publish_lock(publish_mu_, std::defer_lock);
    if (shared_) publish_lock.lock();
    std::optional<nlohmann::json> s;
    {
      std::lock_guard lock(mu_);
      Job& job = jobs_.at(n);
      job.progress = p;
      if (stopping_ && p.phase != "done") fail("ingestion stopped: the server is stopping (stored documents are kept)");
      if (shared_ && (p.phase != job.published_phase || now_ms() - job.published_ms >= kProgressInterval.count())) {
        s = publishing(job);
      }
    }
    if (s) publish({*s});
  };
  try {
    nlohmann::json result = work(progress);
    update(n, [&](Job& job) {
      job.result = result;
      finish(job, Status::Completed);
    });
    return result;
  } catch (...) {
    const std::exception_ptr failure = std::current_exception();
    update(n, [&](Job& job) {
      job.error = error_json(failure);
      finish(job, stopping_ ? Status::Cancelled : Status::Failed);
    });
    throw;
  }
}

void IngestJobs::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    const uint64_t n = queue_.front();
    queue_.pop_front();
    Work work = std::move(jobs_.at(n).work);
    const std::string id = jobs_.at(n).id;
    lock.unlock();
    try {
      execute(n, work);
    } catch (const std::exception& e) {
      log::warn("{} failed: {}", id, e.what());  // recorded in the job; nobody else to tell
    }
    work = nullptr;  // the documents it captured
    lock.lock();
  }
}

void IngestJobs::heartbeat_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (wake_.wait_for(lock, heartbeat_, [this] { return stopping_; })) return;
    lock.unlock();
    {
      std::lock_guard publish_lock(publish_mu_);
      std::vector<nlohmann::json> live;
      {
        std::lock_guard jobs_lock(mu_);
        for (auto& [n, job] : jobs_) {
          if (job.status == Status::Queued || job.status == Status::Running) live.push_back(publishing(job));
        }
      }
      publish(live);
    }
    lock.lock();
  }
}

nlohmann::json IngestJobs::publishing(Job& job) {
  nlohmann::json s = snapshot(job);
  job.published_ms = now_ms();
  job.published_phase = job.progress.phase;
  return s;
}

void IngestJobs::publish(const std::vector<nlohmann::json>& snapshots) {
  if (!shared_) return;
  for (const auto& s : snapshots) {
    // `replace`: an error message with invalid UTF-8 must not make publishing throw.
    shared_->put(s["id"].get<std::string>(), s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                 kSnapshotTtl);
  }
}

void IngestJobs::finish(Job& job, Status status) {
  job.status = status;
  job.finished_ms = now_ms();
  job.work = nullptr;
  // Forget the oldest ended jobs beyond keep_finished_ (jobs_ is ordered oldest first).
  size_t ended = 0;
  for (const auto& [n, j] : jobs_) ended += (j.status != Status::Queued && j.status != Status::Running);
  for (auto it = jobs_.begin(); ended > keep_finished_ && it != jobs_.end();) {
    const bool is_ended = it->second.status != Status::Queued && it->second.status != Status::Running;
    if (is_ended && &it->second != &job) {
      by_id_.erase(it->second.id);
      it = jobs_.erase(it);
      --ended;
    } else {
      ++it;
    }
  }
}

const char* IngestJobs::status_name(Status s) {
  switch (s) {
    case Status::Queued: return "queued";
    case Status::Running: return "running";
    case Status::Completed: return "completed";
    case Status::Failed: return "failed";
    case Status::Cancelled: return "cancelled";
  }
  return "unknown";
}

nlohmann::json IngestJobs::snapshot(const Job& job) {
  nlohmann::json j = job.progress.to_json();
  j["id"] = job.id;
  j["object"] = "ingest.job";
  j["collection"] = job.collection;
  j["status"] = status_name(job.status);
  j["created_at"] = job.created_ms / 1000;
  j["started_at"] = job.started_ms ? nlohmann::json(job.started_ms / 1000) : nlohmann::json(nullptr);
  j["finished_at"] = job.finished_ms ? nlohmann::json(job.finished_ms / 1000) : nlohmann::json(nullptr);
  // When this state was last confirmed by the process running the job: now, for a local
  // job; the time of the snapshot, for one read from the shared cache.
  j["updated_at"] = now_ms() / 1000;
  if (job.status == Status::Completed) j["result"] = job.result;
  if (!job.error.is_null()) j["error"] = job.error;
  return j;
}

std::optional<nlohmann::json> IngestJobs::get(const std::string& id) const {
  if (!valid_job_id(id)) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it != by_id_.end()) return snapshot(jobs_.at(it->second));
  }
  if (!shared_) return std::nullopt;
  std::optional<std::string> bytes = shared_->get(id);  // outside mu_: a round trip to Redis
  if (!bytes) return std::nullopt;
  return read_shared(id, *bytes, now_ms() / 1000);
}

nlohmann::json IngestJobs::list() const {
  std::lock_guard lock(mu_);
  nlohmann::json data = nlohmann::json::array();
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) data.push_back(snapshot(it->second));
  return {{"object", "list"}, {"data", data}};
}

size_t IngestJobs::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace ragd::server
