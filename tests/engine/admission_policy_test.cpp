// The scheduler's admission decisions (engine/admission_policy.h), without a model.
#include "engine/admission_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace ragd::engine {
namespace {

AdmissionLimits limits(size_t max_concurrent, size_t max_per_user, size_t max_batch_size = 4,
                       double queue_timeout = 30) {
  return {max_concurrent, max_per_user, max_batch_size, queue_timeout};
}

TEST(AdmissionPolicyTest, SubmitAcceptsUpToMaxConcurrentThenOverloaded) {
  const AdmissionPolicy p(limits(10, 0));
  EXPECT_FALSE(p.check_submit(9, 0, 1, 0));
  EXPECT_FALSE(p.check_submit(0, 0, 10, 0));
  const auto r = p.check_submit(10, 0, 1, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, AdmitStatus::Overloaded);
  EXPECT_EQ(r->message, "the server is busy (10 requests running or waiting); retry later");
  // Choices count one each, and the message says so.
  const auto choices = p.check_submit(8, 0, 3, 0);
  ASSERT_TRUE(choices);
  EXPECT_EQ(choices->message,
            "the server is busy (8 requests running or waiting; this request's 3 choices count as 3); retry later");
}

TEST(AdmissionPolicyTest, RetryAfterGrowsWithBatchesAheadAndIsBounded) {
  const AdmissionPolicy p(limits(10, 0, 4));
  // No request finished yet: a mean of 1 s. 11 requests are 3 batches of 4.
  EXPECT_DOUBLE_EQ(p.check_submit(10, 0, 1, 0)->retry_after_seconds, 3.0);
  EXPECT_DOUBLE_EQ(p.check_submit(10, 0, 1, 2.5)->retry_after_seconds, 7.5);
  EXPECT_DOUBLE_EQ(p.check_submit(10, 0, 1, 100)->retry_after_seconds, 60.0);
}

TEST(AdmissionPolicyTest, PerUserCapAnswersUserLimit) {
  const AdmissionPolicy p(limits(100, 2));
  EXPECT_FALSE(p.check_submit(50, 1, 1, 0));
  const auto r = p.check_submit(50, 2, 1, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, AdmitStatus::UserLimit);
  EXPECT_EQ(r->message, "too many requests in flight for this user (2 of 2 allowed)");
  EXPECT_DOUBLE_EQ(r->retry_after_seconds, 4.0);
  // All or nothing: two choices do not fit a cap with one left.
  EXPECT_EQ(p.check_submit(0, 1, 2, 0)->status, AdmitStatus::UserLimit);
  // No cap.
  EXPECT_FALSE(AdmissionPolicy(limits(100, 0)).check_submit(0, 99, 1, 0));
  // The server-wide limit is checked first.
  EXPECT_EQ(p.check_submit(100, 5, 1, 0)->status, AdmitStatus::Overloaded);
}

TEST(AdmissionPolicyTest, OrderIsPriorityThenAgeAndTheWorstIsLast) {
  std::vector<AdmissionKey> keys = {{2, 1}, {0, 7}, {1, 3}, {0, 2}, {2, 0}};
  std::sort(keys.begin(), keys.end(), AdmissionPolicy::before);
  const std::vector<std::pair<size_t, uint64_t>> want = {{0, 2}, {0, 7}, {1, 3}, {2, 0}, {2, 1}};
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].priority, want[i].first) << i;
    EXPECT_EQ(keys[i].id, want[i].second) << i;
  }
  // The preemption victim: the lowest priority, then the youngest.
  EXPECT_EQ(keys.back().id, 1u);
  EXPECT_FALSE(AdmissionPolicy::before({1, 5}, {1, 5}));
}

TEST(AdmissionPolicyTest, BatchSlotsCountCarriedChoicesAndReservedForks) {
  const AdmissionPolicy p(limits(100, 0, 4));
  EXPECT_TRUE(p.has_slots(3, 0, 0));
  EXPECT_FALSE(p.has_slots(4, 0, 0));
  EXPECT_FALSE(p.has_slots(2, 1, 1));  // 2 running + 1 promised + itself + 1 carried
  EXPECT_TRUE(p.has_slots(1, 1, 1));
  EXPECT_TRUE(p.has_slots(0, 0, 3));
  EXPECT_FALSE(p.has_slots(0, 0, 4));
}

TEST(AdmissionPolicyTest, SpareBlocksOnlyBesideRunningSequences) {
  EXPECT_EQ(AdmissionPolicy::spare_blocks(0, 0), 0u);
  EXPECT_EQ(AdmissionPolicy::spare_blocks(0, 3), 0u);  // alone: forks wait as a group instead
  EXPECT_EQ(AdmissionPolicy::spare_blocks(2, 0), 2u);
  EXPECT_EQ(AdmissionPolicy::spare_blocks(2, 3), 5u);
}

TEST(AdmissionPolicyTest, OnlyUnstartedRequestsExpire) {
  const AdmissionPolicy p(limits(100, 0, 4, 2.0));
  EXPECT_FALSE(p.expired(false, 1.9));
  EXPECT_FALSE(p.expired(false, 2.0));
  EXPECT_TRUE(p.expired(false, 2.1));
  EXPECT_FALSE(p.expired(true, 1000));  // preempted or regrouped: waits for its turn
}

}  // namespace
}  // namespace ragd::engine
