// UpstreamBalancer: which of a model's upstream servers takes the next request, and which
// are in rotation. Pure bookkeeping (no I/O, the clock is passed in), so the state machine
// is unit-tested directly; engine/upstream_model.h does the requests and the probes.
//
// Each upstream is Up (in rotation) or Down (out). States and transitions:
//   Up   --failure (a request's connection error / HTTP 5xx, or a failed probe)--> Down,
//        out for `backoff` seconds
//   Down --its backoff has passed--> due for a probe (still out)
//   Down --failed probe--> Down, backoff doubled (at most max_backoff)
//   Down --successful probe--> Up, backoff reset
// A request that succeeds on an upstream changes nothing: only a probe brings one back, so
// a flapping server is not handed live traffic to find out. Up upstreams are probed too,
// every probe_interval, so one that died while idle is taken out before a request finds it.
//
// Balancing: least requests in flight among Up upstreams the request has not tried yet;
// ties go round robin (the rotation starts after the last upstream picked), so equal
// servers share sequential traffic evenly.
//
// Thread-safe (one mutex; every call is O(upstreams)).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ragd::engine {

struct UpstreamHealthOptions {
  double probe_interval = 5;  // s between probes of an Up upstream
  double backoff = 1;         // s a failed upstream stays out before its first probe
  double max_backoff = 30;    // s; the backoff doubles with every failed probe up to this
};

struct UpstreamEndpointStatus {
  std::string url;
  bool up = true;
  size_t in_flight = 0;
  uint64_t requests = 0;   // requests sent to it (each retry counts once more)
  uint64_t failures = 0;   // failed requests and failed probes
  double backoff_seconds = 0;  // while Down: the current backoff
  std::string last_error;  // why it last failed; empty if never
};

class UpstreamBalancer {
 public:
  using Clock = std::chrono::steady_clock;

  UpstreamBalancer(std::vector<std::string> urls, UpstreamHealthOptions options);

  // Picks an Up upstream not in `tried` (least in flight, ties round robin) and counts the
  // request in flight on it; nullopt when there is none.
  std::optional<size_t> acquire(const std::vector<size_t>& tried);
  // The request acquire() counted is over, whatever its outcome.
  void release(size_t i);
  // A request on `i` failed at the upstream (not the client's fault): Down now.
  void request_failed(size_t i, const std::string& why, Clock::time_point now);
  // Probe outcomes; `sent` is when the probe was sent. A success is ignored when a request
  // failed on the upstream after `sent`: the probe's answer is older than that failure.
  void probe_succeeded(size_t i, Clock::time_point sent);
  void probe_failed(size_t i, const std::string& why, Clock::time_point now);
  // Upstreams to probe at `now`: Up ones not probed for probe_interval, Down ones whose
  // backoff has passed. Marks them probed, so a second call does not return them again.
  std::vector<size_t> due_probes(Clock::time_point now);
  // Seconds until the first Down upstream is due a probe (a Retry-After for clients when
  // none is Up); 0 when one is Up.
  double seconds_until_retry(Clock::time_point now) const;

  size_t size() const { return slots_.size(); }
  std::vector<UpstreamEndpointStatus> status() const;

 private:
  struct Slot {
    UpstreamEndpointStatus status;
    double backoff = 0;                // current backoff while Down
    Clock::time_point next_probe{};    // Up: next routine probe; Down: end of the backoff
    Clock::time_point failed_at{};     // the last failure
  };
  void take_out(Slot& s, const std::string& why, double backoff, Clock::time_point now);

  UpstreamHealthOptions options_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  size_t next_ = 0;  // where the round robin starts
};

}  // namespace ragd::engine
