// AdmissionPolicy: the serving scheduler's decisions about who may queue, who starts, in
// which order, and who gives way; pure functions of counts and keys, so they are tested
// without a model (the Scheduler, engine/scheduler.h, applies them to its sequences).
//
//   - submit: over max_concurrent requests (running + waiting) a request is refused
//     Overloaded; over max_per_user for its user, UserLimit; each with a Retry-After from
//     the mean request time (choices of one prompt count one each).
//   - order: best first is higher priority (lower number), then older (smaller id). Waiting
//     requests start strictly in this order; the worst running one is preempted first when
//     KV blocks run out.
//   - batch slots: a request starts only with a slot for itself and each choice it carries,
//     beside the running sequences and the slots promised to their choices.
//   - KV blocks: starting one keeps a spare block per running sequence and per carried
//     choice (so the next decodes do not immediately preempt), except into an empty batch.
//   - queue timeout: a request never scheduled fails once it has waited queue_timeout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/request_stream.h"  // AdmitStatus

namespace ragd::engine {

struct AdmissionLimits {
  size_t max_concurrent = 100;  // running + waiting requests
  size_t max_per_user = 0;      // running + waiting per user; 0: no cap
  size_t max_batch_size = 32;   // running sequences
  double queue_timeout = 30;    // s a request may wait before it is first scheduled
};

// Where a request stands in the order (Sequence::priority, Sequence::id).
struct AdmissionKey {
  size_t priority = 0;  // 0 = highest
  uint64_t id = 0;      // submission order: larger is younger
};

// Why a submission was refused.
struct Refusal {
  AdmitStatus status = AdmitStatus::Overloaded;
  std::string message;
  double retry_after_seconds = 0;
};

class AdmissionPolicy {
 public:
  explicit AdmissionPolicy(AdmissionLimits limits) : limits_(limits) {}

  // Whether `n` more requests (choices) of a user may queue, given `active` accepted and
  // unfinished requests in all, `user_active` of them the user's, and the moving mean of a
  // request's time from submit to finish (0 before any finished).
  std::optional<Refusal> check_submit(size_t active, size_t user_active, size_t n,
                                      double mean_request_seconds) const;

  // Best first (see above); the worst running request is the last in this order.
  static bool before(const AdmissionKey& a, const AdmissionKey& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  }

  // Whether a request carrying `carried` other choices has batch slots beside `running`
  // sequences and `reserved` slots promised to running first choices' forks.
  bool has_slots(size_t running, size_t reserved, size_t carried) const {
    return running + reserved + 1 + carried <= limits_.max_batch_size;
  }

  // Free blocks to leave when starting a request carrying `carried` choices beside `running`
  // sequences (see above).
  static size_t spare_blocks(size_t running, size_t carried) { return running == 0 ? 0 : running + carried; }

  // Whether a request that has waited `waited_seconds` since submit without ever being
  // scheduled fails with Timeout. A started one (preempted, or choices regrouped after
  // their prompt was computed) waits for its turn instead.
  bool expired(bool started, double waited_seconds) const {
    return !started && waited_seconds > limits_.queue_timeout;
  }

  const AdmissionLimits& limits() const { return limits_; }

 private:
  AdmissionLimits limits_;
};

}  // namespace ragd::engine
