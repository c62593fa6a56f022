#include "server/process_stats.h"

#include <gtest/gtest.h>

#include <ctime>

#include "server/active_users.h"

namespace ragd::server {
namespace {

TEST(ProcessStats, ReadsThisProcess) {
  ProcessStats p = read_process_stats();
  ASSERT_TRUE(p.ok);
  EXPECT_GT(p.resident_bytes, 1u << 20);  // a running gtest binary holds more than 1 MiB
  EXPECT_GE(p.virtual_bytes, p.resident_bytes);
  EXPECT_GE(p.cpu_seconds, 0.0);
  EXPECT_GE(p.open_fds, 3u);  // stdin, stdout, stderr
  EXPECT_GE(p.max_fds, p.open_fds);
  EXPECT_GT(p.machine_memory_bytes, p.resident_bytes);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(p.start_time_seconds, now + 1);
  EXPECT_GT(p.start_time_seconds, now - 24 * 3600);  // started by this test run, not at the epoch
}

TEST(ProcessStats, CommandsWithSpacesAndParenthesesAreSkipped) {
  EXPECT_EQ(stat_fields_after_command("42 (ragd) S 1 42"), "S 1 42");
  EXPECT_EQ(stat_fields_after_command("42 (a) b) (c) R 7"), "R 7");
  EXPECT_EQ(stat_fields_after_command("garbage"), "");
  EXPECT_EQ(stat_fields_after_command("42 (x)"), "");
}

TEST(ActiveUsers, CountsDistinctUsersWithinTheWindow) {
  using namespace std::chrono;
  ActiveUsers users(minutes(5));
  const auto t0 = ActiveUsers::Clock::now();
  EXPECT_EQ(users.count(t0), 0u);
  users.touch("key:a", t0);
  users.touch("key:a", t0 + seconds(10));
  users.touch("user:b", t0 + seconds(20));
  EXPECT_EQ(users.count(t0 + seconds(30)), 2u);
  // a's last request was at +10 s: still active at +5 min, gone at +5 min 10 s.
  EXPECT_EQ(users.count(t0 + minutes(5)), 2u);
  EXPECT_EQ(users.count(t0 + minutes(5) + seconds(10)), 1u);
  EXPECT_EQ(users.count(t0 + minutes(6)), 0u);
}

TEST(ActiveUsers, ManyOneOffUsersDoNotAccumulate) {
  using namespace std::chrono;
  ActiveUsers users(seconds(60));
  auto t = ActiveUsers::Clock::now();
  for (int i = 0; i < 10000; ++i) users.touch("addr:" + std::to_string(i), t + seconds(i));
  EXPECT_EQ(users.count(t + seconds(9999)), 60u);
}

}  // namespace
}  // namespace ragd::server
