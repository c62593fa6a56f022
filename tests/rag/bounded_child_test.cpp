#include "rag/ingest/bounded_child.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "util/error.h"

namespace ragd::rag {
namespace {

ChildLimits small_limits() {
  ChildLimits l;
  l.memory_mib = 64;
  l.cpu_seconds = 10;
  l.wall_seconds = 3;
  l.max_output_bytes = 1 << 20;
  return l;
}

TEST(BoundedChild, ReturnsTheOutput) {
  const auto r = run_bounded_child([] { return std::string("hello\0world", 11); }, small_limits());
  EXPECT_EQ(r.outcome, ChildOutcome::Ok);
  EXPECT_EQ(r.output, std::string("hello\0world", 11));
}

TEST(BoundedChild, AnExceptionBecomesItsMessage) {
  const auto r = run_bounded_child([]() -> std::string { throw std::runtime_error("bad input"); },
                                   small_limits());
  EXPECT_EQ(r.outcome, ChildOutcome::Failed);
  EXPECT_EQ(r.output, "bad input");
}

TEST(BoundedChild, RunawayAllocationHitsTheMemoryLimit) {
  const auto r = run_bounded_child(
      [] {
        std::vector<std::vector<char>> hog;
        for (int i = 0; i < 4096; ++i) hog.emplace_back(1 << 20, 'x');  // 4 GiB, touched
        return std::string("unreachable");
      },
      small_limits());
  EXPECT_EQ(r.outcome, ChildOutcome::OutOfLimits);
}

TEST(BoundedChild, AHangIsKilledAtTheWallClockLimit) {
  ChildLimits l = small_limits();
  l.wall_seconds = 1;
  const auto r = run_bounded_child(
      [] {
        ::sleep(30);
        return std::string("late");
      },
      l);
  EXPECT_EQ(r.outcome, ChildOutcome::OutOfLimits);
}

TEST(BoundedChild, OutputIsCapped) {
  const auto r = run_bounded_child([] { return std::string(2 << 20, 'y'); }, small_limits());
  EXPECT_EQ(r.outcome, ChildOutcome::OutputTooBig);
  EXPECT_TRUE(r.output.empty());
}

TEST(BoundedChild, ACrashIsAnOutcomeNotACrashHere) {
  const auto r = run_bounded_child([]() -> std::string { ::abort(); }, small_limits());
  EXPECT_EQ(r.outcome, ChildOutcome::OutOfLimits);
}

}  // namespace
}  // namespace ragd::rag
