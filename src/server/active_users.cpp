#include "server/active_users.h"

#include <algorithm>

namespace ragd::server {

void ActiveUsers::touch(const std::string& user, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto& seen = last_seen_[user];
  seen = std::max(seen, now);
  if (last_seen_.size() >= sweep_at_) {
    drop_older(now);
    // Amortized: the next sweep waits until the set has doubled again.
    sweep_at_ = std::max<size_t>(1024, last_seen_.size() * 2);
  }
}

size_t ActiveUsers::count(Clock::time_point now) {
  std::lock_guard lock(mu_);
  drop_older(now);
  return last_seen_.size();
}

void ActiveUsers::drop_older(Clock::time_point now) {
  for (auto it = last_seen_.begin(); it != last_seen_.end();) {
    it = now - it->second >= window_ ? last_seen_.erase(it) : std::next(it);
  }
}

}  // namespace ragd::server
