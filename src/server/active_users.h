// ActiveUsers: how many distinct users sent a generation request recently, for the
// `ragd_active_users` gauge. A user is the scheduler's fairness key (the API key, else the
// request's `user` field, else the client address; RequestInfo::user_for). The names are
// kept only in memory and never exported: the gauge is a count.
//
// Thread-safe. Memory is bounded by the users seen within one window: older entries are
// dropped whenever the set is counted or grows.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ragd::server {

class ActiveUsers {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ActiveUsers(std::chrono::seconds window = std::chrono::minutes(5)) : window_(window) {}

  // `user` started a request at `now`.
  void touch(const std::string& user, Clock::time_point now = Clock::now());
  // Distinct users that started a request in (now - window, now].
  size_t count(Clock::time_point now = Clock::now());
  std::chrono::seconds window() const { return window_; }

 private:
  void drop_older(Clock::time_point now);  // requires mu_

  const std::chrono::seconds window_;
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> last_seen_;
  size_t sweep_at_ = 1024;  // size at which touch() drops stale entries
};

}  // namespace ragd::server
