#include "engine/upstream_balancer.h"

#include <algorithm>

#include "util/error.h"

namespace ragd::engine {
namespace {

UpstreamBalancer::Clock::duration seconds(double s) {
  return std::chrono::duration_cast<UpstreamBalancer::Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

UpstreamBalancer::UpstreamBalancer(std::vector<std::string> urls, UpstreamHealthOptions options)
    : options_(options) {
  if (urls.empty()) fail("an upstream model needs at least one upstream URL");
  if (!(options_.backoff > 0) || options_.max_backoff < options_.backoff || !(options_.probe_interval > 0)) {
    fail("upstream health options: probe_interval and backoff must be > 0 and max_backoff >= backoff");
  }
  for (auto& url : urls) {
    Slot s;
    s.status.url = std::move(url);
    slots_.push_back(std::move(s));
  }
}

std::optional<size_t> UpstreamBalancer::acquire(const std::vector<size_t>& tried) {
  std::lock_guard lock(mu_);
  std::optional<size_t> best;
  const size_t n = slots_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (next_ + k) % n;
    const auto& s = slots_[i].status;
    if (!s.up || std::find(tried.begin(), tried.end(), i) != tried.end()) continue;
    // Strictly fewer wins, so among equals the first in rotation order is kept.
    if (!best || s.in_flight < slots_[*best].status.in_flight) best = i;
  }
  if (!best) return std::nullopt;
  auto& s = slots_[*best].status;
  ++s.in_flight;
  ++s.requests;
  next_ = (*best + 1) % n;
  return best;
}

void UpstreamBalancer::release(size_t i) {
  std::lock_guard lock(mu_);
  auto& s = slots_.at(i).status;
  if (s.in_flight > 0) --s.in_flight;
}

void UpstreamBalancer::take_out(Slot& s, const std::string& why, double backoff, Clock::time_point now) {
  s.status.up = false;
  s.status.last_error = why;
  ++s.status.failures;
  s.backoff = backoff;
  s.status.backoff_seconds = backoff;
  s.next_probe = now + seconds(backoff);
  s.failed_at = now;
}

void UpstreamBalancer::request_failed(size_t i, const std::string& why, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Slot& s = slots_.at(i);
  if (!s.status.up) {
    // Already out (several requests failed together): one failure, one backoff.
    s.status.last_error = why;
    return;
  }
  take_out(s, why, options_.backoff, now);
}

void UpstreamBalancer::probe_succeeded(size_t i, Clock::time_point sent) {
  std::lock_guard lock(mu_);
  Slot& s = slots_.at(i);
  if (!s.status.up && s.failed_at > sent) return;  // it failed since: its backoff stands
  s.status.up = true;
  s.backoff = 0;
  s.status.backoff_seconds = 0;
  s.next_probe = sent + seconds(options_.probe_interval);
}

void UpstreamBalancer::probe_failed(size_t i, const std::string& why, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Slot& s = slots_.at(i);
  const double backoff = s.status.up ? options_.backoff : std::min(s.backoff * 2, options_.max_backoff);
  take_out(s, why, backoff, now);
}

std::vector<size_t> UpstreamBalancer::due_probes(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<size_t> out;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (now < s.next_probe) continue;
    out.push_back(i);
    // Not due again until the outcome is recorded (which sets the next time), or, if the
    // prober never reports, until a probe interval has passed.
    s.next_probe = now + seconds(options_.probe_interval);
  }
  return out;
}

double UpstreamBalancer::seconds_until_retry(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  double best = -1;
  for (const auto& s : slots_) {
    if (s.status.up) return 0;
    const double wait = std::max(0.0, std::chrono::duration<double>(s.next_probe - now).count());
    if (best < 0 || wait < best) best = wait;
  }
  return std::max(best, 0.0);
}

std::vector<UpstreamEndpointStatus> UpstreamBalancer::status() const {
  std::lock_guard lock(mu_);
  std::vector<UpstreamEndpointStatus> out;
  for (const auto& s : slots_) out.push_back(s.status);
  return out;
}

}  // namespace ragd::engine
