#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "engine/stop_matcher.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

TEST(Sampler, GreedyPicksArgmax) {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  std::vector<float> logits{0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(Sampler, LogitBiasCanBanTheBestToken) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias[1] = -INFINITY;
  Sampler s(p);
  std::vector<float> logits{0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(s.sample(logits, {}), 3);
}

TEST(Sampler, RepetitionPenaltyDemotesSeenTokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 1.5f;
  Sampler s(p);
  std::vector<float> logits{0.0f, 2.0f, 1.5f};
  std::vector<int32_t> history{1};
  EXPECT_EQ(s.sample(logits, history), 2);  // 2.0 / 1.5 < 1.5
}

TEST(Sampler, FrequencyAndPresencePenalties) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.2f;
  Sampler s(p);
  std::vector<float> logits{0.0f, 2.0f, 1.0f};
  std::vector<int32_t> history{1, 1};
  s.sample(logits, history);
  EXPECT_FLOAT_EQ(logits[1], 2.0f - 2 * 0.5f - 0.2f);
  EXPECT_FLOAT_EQ(logits[2], 1.0f);
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 1;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) {
    std::vector<float> logits{0.0f, 0.5f, 0.4f};
    EXPECT_EQ(s.sample(logits, {}), 1);
  }
}

// Top-k keeps exactly the k best logits (ties broken towards lower ids), skips banned
// tokens, and draws from all of them.
TEST(Sampler, TopKKeepsTheKBest) {
  SamplingParams p;
  p.temperature = 50.0f;  // nearly uniform over the survivors
  p.top_k = 5;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler s(p);
  std::vector<float> base(1000);
  for (int j = 0; j < 1000; ++j) base[j] = std::sin(j * 0.61f) * 3.0f;
  base[17] = -std::numeric_limits<float>::infinity();
  std::vector<int> order(1000);
  for (int j = 0; j < 1000; ++j) order[j] = j;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return base[a] > base[b]; });
  std::set<int> best(order.begin(), order.begin() + 5), seen;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> logits = base;
    int id = s.sample(logits, {});
    EXPECT_TRUE(best.count(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen, best);

  std::vector<float> flat(50, 1.0f);
  flat[1] = -std::numeric_limits<float>::infinity();
  std::set<int> drawn;
  p.top_k = 3;
  for (int i = 0; i < 500; ++i) {
    std::vector<float> logits = flat;
    p.seed = static_cast<uint64_t>(i);
    drawn.insert(Sampler(p).sample(logits, {}));
  }
  EXPECT_EQ(drawn, (std::set<int>{0, 2, 3}));
}

TEST(Sampler, SameSeedSameDraws) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler a(p), b(p);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> la(100), lb(100);
    for (int j = 0; j < 100; ++j) la[j] = lb[j] = std::sin(j * 0.37f);
    EXPECT_EQ(a.sample(la, {}), b.sample(lb, {}));
  }
}

TEST(Sampler, DrawsFollowTheDistribution) {
  // Two tokens with probabilities 0.25 / 0.75 (logit difference ln 3).
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler s(p);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits{0.0f, std::log(3.0f)};
    ones += s.sample(logits, {});
  }
  EXPECT_NEAR(ones / double(n), 0.75, 0.02);
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.5f;  // the best token alone holds > 0.5
  p.min_p = 0.0f;
  Sampler s(p);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> logits{3.0f, 0.0f, 0.0f, 0.0f};
    EXPECT_EQ(s.sample(logits, {}), 0);
  }
  SamplingParams q = p;
  q.top_p = 1.0f;
  q.min_p = 0.5f;  // others have p/p_max = e^-3 < 0.5
  Sampler t(q);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> logits{3.0f, 0.0f, 0.0f, 0.0f};
    EXPECT_EQ(t.sample(logits, {}), 0);
  }
}

TEST(Sampler, InvalidParamsAreRejected) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.temperature = -1.0f;
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(StopMatcher, HoldsBackPossibleStopPrefixes) {
  StopMatcher m({"</s>", "User:"});
  EXPECT_EQ(m.push("Hello <"), "Hello ");
  EXPECT_EQ(m.push("/"), "");
  EXPECT_EQ(m.push("x"), "</x");
  EXPECT_EQ(m.push(" Us"), " ");
  EXPECT_EQ(m.push("er: more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("ignored"), "");
}

TEST(StopMatcher, FlushReleasesHeldText) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abc ST"), "abc ");
  EXPECT_EQ(m.flush(), "ST");
  StopMatcher none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

TEST(StopMatcher, KeptStopsEndTheTextButStayInIt) {
  StopMatcher m({"\n\n"}, {"]."});
  EXPECT_EQ(m.push("It is 3 m tall [1"), "It is 3 m tall [1");
  EXPECT_EQ(m.push("]"), "");  // could be the start of "]."
  EXPECT_EQ(m.push(". More text"), "].");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EarliestStopOfEitherKindWins) {
  StopMatcher dropped_first({"\n\n"}, {"]."});
  EXPECT_EQ(dropped_first.push("A [1]\n\nB [2]."), "A [1]");
  StopMatcher kept_first({"\n\n"}, {"]."});
  EXPECT_EQ(kept_first.push("A [1]. B\n\nC"), "A [1].");
  // At the same position the dropped stop wins: it ends the text earlier.
  StopMatcher same({"]"}, {"]."});
  EXPECT_EQ(same.push("x]."), "x");
  StopMatcher no_dropped({}, {"."});
  EXPECT_EQ(no_dropped.push("One. Two."), "One.");
}

}  // namespace
}  // namespace ragd::engine
