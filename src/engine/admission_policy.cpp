#include "engine/admission_policy.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace ragd::engine {

std::optional<Refusal> AdmissionPolicy::check_submit(size_t active, size_t user_active, size_t n,
                                                     double mean_request_seconds) const {
  // Retry-After: roughly when one batch's worth of the requests ahead will have finished.
  const double mean = std::max(mean_request_seconds, 1.0);
  const std::string needs = n > 1 ? fmt::format("; this request's {} choices count as {}", n, n) : "";
  if (active + n > limits_.max_concurrent) {
    const double batches = std::ceil(double(active + n) / double(limits_.max_batch_size));
    return Refusal{AdmitStatus::Overloaded,
                   fmt::format("the server is busy ({} requests running or waiting{}); retry later", active, needs),
                   std::max(1.0, std::min(mean * batches, 60.0))};
  }
  if (limits_.max_per_user > 0 && user_active + n > limits_.max_per_user) {
    return Refusal{AdmitStatus::UserLimit,
                   fmt::format("too many requests in flight for this user ({} of {} allowed{})", user_active,
                               limits_.max_per_user, needs),
                   std::max(1.0, std::min(mean, 60.0))};
  }
  return std::nullopt;
}

}  // namespace ragd::engine
