#include "server/ingest_jobs.h"

#include <chrono>
#include <exception>

#include "server/api_error.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::server {
namespace {

constexpr const char* kIdPrefix = "ingest-";

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<uint64_t> parse_job_id(const std::string& id) {
  const std::string prefix = kIdPrefix;
  if (id.size() <= prefix.size() || id.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = prefix.size(); i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9' || n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  return n;
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

IngestJobs::IngestJobs(size_t max_pending, size_t keep_finished)
    : max_pending_(max_pending), keep_finished_(keep_finished), worker_([this] { worker_loop(); }) {}

IngestJobs::~IngestJobs() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (uint64_t n : queue_) {
      Job& job = jobs_.at(n);
      job.error = {{"message", "the server stopped before this job ran; nothing was stored"},
                   {"type", "cancelled"}};
      finish(job, Status::Cancelled);
    }
    queue_.clear();
  }
  wake_.notify_all();
  worker_.join();
}

uint64_t IngestJobs::create(const std::string& collection, size_t documents) {
  const uint64_t n = next_id_++;
  Job& job = jobs_[n];
  job.id = kIdPrefix + std::to_string(n);
  job.collection = collection;
  job.progress.documents_total = documents;
  job.created_ms = now_ms();
  return n;
}

nlohmann::json IngestJobs::submit(const std::string& collection, size_t documents, Work work) {
  nlohmann::json out;
  {
    std::lock_guard lock(mu_);
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
    out = snapshot(job);
  }
  wake_.notify_all();
  return out;
}

nlohmann::json IngestJobs::run_inline(const std::string& collection, size_t documents, const Work& work) {
  uint64_t n = 0;
  {
    std::lock_guard lock(mu_);
    n = create(collection, documents);
  }
  return execute(n, work);
}

nlohmann::json IngestJobs::execute(uint64_t n, const Work& work) {
  {
    std::lock_guard lock(mu_);
    Job& job = jobs_.at(n);
    job.status = Status::Running;
    job.started_ms = now_ms();
  }
  // Records progress; throws once the server is stopping, except for the final report (the
  // work is complete by then and its result should be recorded).
  auto progress = [this, n](const IngestProgress& p) {
    std::lock_guard lock(mu_);
    jobs_.at(n).progress = p;
    if (stopping_ && p.phase != "done") fail("ingestion stopped: the server is stopping (stored documents are kept)");
  };
  try {
    nlohmann::json result = work(progress);
    std::lock_guard lock(mu_);
    Job& job = jobs_.at(n);
    job.result = result;
    finish(job, Status::Completed);
    return result;
  } catch (...) {
    std::lock_guard lock(mu_);
    Job& job = jobs_.at(n);
    job.error = error_json(std::current_exception());
    finish(job, stopping_ ? Status::Cancelled : Status::Failed);
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
  if (job.status == Status::Completed) j["result"] = job.result;
  if (!job.error.is_null()) j["error"] = job.error;
  return j;
}

std::optional<nlohmann::json> IngestJobs::get(const std::string& id) const {
  auto n = parse_job_id(id);
  if (!n) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = jobs_.find(*n);
  if (it == jobs_.end()) return std::nullopt;
  return snapshot(it->second);
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
