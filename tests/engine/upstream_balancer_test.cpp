// UpstreamBalancer: least-in-flight choice, round robin among equals, and the Up/Down
// health state machine with its backoff (engine/upstream_balancer.h).
#include "engine/upstream_balancer.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace ragd::engine {
namespace {

using Clock = UpstreamBalancer::Clock;
using std::chrono::milliseconds;

UpstreamHealthOptions health(double backoff = 1, double max_backoff = 4, double probe_interval = 5) {
  UpstreamHealthOptions o;
  o.backoff = backoff;
  o.max_backoff = max_backoff;
  o.probe_interval = probe_interval;
  return o;
}

UpstreamBalancer three() { return UpstreamBalancer({"a", "b", "c"}, health()); }

TEST(UpstreamBalancer, RoundRobinAmongIdleUpstreams) {
  auto b = three();
  std::vector<size_t> picks;
  for (int k = 0; k < 6; ++k) {
    auto i = b.acquire({});
    ASSERT_TRUE(i);
    picks.push_back(*i);
    b.release(*i);
  }
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(UpstreamBalancer, LeastInFlightWins) {
  auto b = three();
  ASSERT_EQ(b.acquire({}), 0u);  // a: 1
  ASSERT_EQ(b.acquire({}), 1u);  // b: 1
  ASSERT_EQ(b.acquire({}), 2u);  // c: 1
  b.release(1);                  // b: 0
  EXPECT_EQ(b.acquire({}), 1u);  // the only one with nothing in flight
  EXPECT_EQ(b.status()[1].in_flight, 1u);
  EXPECT_EQ(b.status()[1].requests, 2u);
}

TEST(UpstreamBalancer, SkipsUpstreamsTheRequestTried) {
  auto b = three();
  EXPECT_EQ(b.acquire({0, 1}), 2u);
  EXPECT_FALSE(b.acquire({0, 1, 2}));
}

TEST(UpstreamBalancer, FailedUpstreamIsOutUntilASuccessfulProbe) {
  auto b = three();
  const auto t0 = Clock::now();
  b.due_probes(t0);  // the start-up round: all probed
  b.probe_succeeded(0, t0);
  b.probe_succeeded(1, t0);
  b.probe_succeeded(2, t0);
  b.request_failed(1, "connection refused", t0);
  EXPECT_FALSE(b.status()[1].up);
  EXPECT_EQ(b.status()[1].last_error, "connection refused");
  for (int k = 0; k < 4; ++k) {
    auto i = b.acquire({});
    ASSERT_TRUE(i);
    EXPECT_NE(*i, 1u);
    b.release(*i);
  }
  // Not due before its backoff (1 s) has passed; then due, and still out until it answers.
  EXPECT_TRUE(b.due_probes(t0 + milliseconds(900)).empty());
  EXPECT_EQ(b.due_probes(t0 + milliseconds(1100)), std::vector<size_t>{1});
  EXPECT_TRUE(b.due_probes(t0 + milliseconds(1200)).empty());  // once per due time
  EXPECT_FALSE(b.status()[1].up);
  b.probe_succeeded(1, t0 + milliseconds(1200));
  EXPECT_TRUE(b.status()[1].up);
  EXPECT_EQ(b.acquire({0, 2}), 1u);
}

TEST(UpstreamBalancer, ProbeSentBeforeAFailureDoesNotUndoIt) {
  auto b = three();
  const auto t = Clock::now();
  for (size_t i : b.due_probes(t)) b.probe_succeeded(i, t);
  const auto sent = t + std::chrono::seconds(5);     // a routine probe goes out,
  b.request_failed(0, "reset", sent + milliseconds(10));  // a request fails meanwhile,
  b.probe_succeeded(0, sent);                         // then the probe's 200 arrives
  EXPECT_FALSE(b.status()[0].up);
  b.probe_succeeded(0, sent + milliseconds(1100));    // the next probe, after the backoff
  EXPECT_TRUE(b.status()[0].up);
}

TEST(UpstreamBalancer, BackoffDoublesPerFailedProbeUpToItsCap) {
  UpstreamBalancer b({"a"}, health(1, 4));
  auto t = Clock::now();
  b.request_failed(0, "down", t);
  std::vector<double> backoffs;
  for (int k = 0; k < 4; ++k) {
    t += std::chrono::seconds(10);
    ASSERT_EQ(b.due_probes(t), std::vector<size_t>{0});
    b.probe_failed(0, "still down", t);
    backoffs.push_back(b.status()[0].backoff_seconds);
  }
  EXPECT_EQ(backoffs, (std::vector<double>{2, 4, 4, 4}));
  EXPECT_EQ(b.status()[0].failures, 5u);
  b.probe_succeeded(0, t);
  b.request_failed(0, "down again", t);  // a fresh failure starts from the first backoff
  EXPECT_EQ(b.status()[0].backoff_seconds, 1);
}

TEST(UpstreamBalancer, ConcurrentFailuresCountOnce) {
  auto b = three();
  const auto t = Clock::now();
  for (size_t i : b.due_probes(t)) b.probe_succeeded(i, t);  // the start-up round
  b.request_failed(0, "first", t);
  b.request_failed(0, "second", t + milliseconds(500));
  EXPECT_EQ(b.status()[0].failures, 1u);
  EXPECT_EQ(b.status()[0].last_error, "second");
  // The backoff still runs from the first failure.
  EXPECT_EQ(b.due_probes(t + milliseconds(1050)), std::vector<size_t>{0});
}

TEST(UpstreamBalancer, UpUpstreamsAreProbedEveryInterval) {
  UpstreamBalancer b({"a", "b"}, health(1, 4, 5));
  const auto t0 = Clock::now();
  EXPECT_EQ(b.due_probes(t0).size(), 2u);  // at start
  b.probe_succeeded(0, t0);
  b.probe_succeeded(1, t0);
  EXPECT_TRUE(b.due_probes(t0 + std::chrono::seconds(4)).empty());
  EXPECT_EQ(b.due_probes(t0 + std::chrono::seconds(6)).size(), 2u);
  b.probe_failed(0, "timeout", t0 + std::chrono::seconds(6));  // an idle server that died
  EXPECT_FALSE(b.status()[0].up);
  EXPECT_EQ(b.acquire({}), 1u);
}

TEST(UpstreamBalancer, RetryAfterIsTheNearestProbe) {
  UpstreamBalancer b({"a", "b"}, health(2, 8));
  const auto t = Clock::now();
  EXPECT_EQ(b.seconds_until_retry(t), 0);
  b.request_failed(0, "x", t);
  b.request_failed(1, "y", t + std::chrono::seconds(1));
  EXPECT_FALSE(b.acquire({}));
  EXPECT_NEAR(b.seconds_until_retry(t + std::chrono::milliseconds(500)), 1.5, 1e-6);
}

TEST(UpstreamBalancer, RefusesNoUpstreamsAndBadOptions) {
  EXPECT_THROW(UpstreamBalancer({}, health()), Error);
  EXPECT_THROW(UpstreamBalancer({"a"}, health(0)), Error);
  EXPECT_THROW(UpstreamBalancer({"a"}, health(4, 2)), Error);
}

}  // namespace
}  // namespace ragd::engine
