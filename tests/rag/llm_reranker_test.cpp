// LlmReranker on the real SmolLM2-135M-Instruct (skipped when it is not fetched): prompts
// carry the question and passage, batched prefill scores like one prompt at a time, and
// passage truncation bounds the prompt.
#include "rag/search/llm_reranker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "util/error.h"

namespace ragd::rag {
namespace {

std::unique_ptr<LlmReranker> open_smollm(LlmRerankerOptions o = {}) {
  const std::string path = std::string(RAGD_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) return nullptr;
  o.threads = 2;
  return LlmReranker::open(path, o);
}

TEST(LlmReranker, PromptHoldsQuestionAndTruncatedPassage) {
  LlmRerankerOptions o;
  o.max_passage_tokens = 8;
  auto r = open_smollm(o);
  if (!r) GTEST_SKIP() << "default model not fetched (make models)";
  EXPECT_EQ(r->name().rfind("llm:", 0), 0u);
  std::string passage;
  for (int i = 0; i < 200; ++i) passage += "word" + std::to_string(i) + " ";
  auto long_prompt = r->prompt_tokens("Where is Paris?", passage);
  auto short_prompt = r->prompt_tokens("Where is Paris?", "word0 word1");
  EXPECT_LT(long_prompt.size(), short_prompt.size() + 12);  // 8 passage tokens at most
}

TEST(LlmReranker, BatchedScoresMatchOneByOne) {
  auto r = open_smollm();
  if (!r) GTEST_SKIP() << "default model not fetched (make models)";
  std::vector<std::string_view> texts{"Paris is the capital and largest city of France.",
                                      "Photosynthesis turns light into chemical energy in plants.",
                                      "The Seine flows through Paris."};
  auto batched = r->score("What is the capital of France?", texts);
  ASSERT_EQ(batched.size(), 3u);
  for (size_t i = 0; i < texts.size(); ++i) {
    auto alone = r->score("What is the capital of France?", std::span(&texts[i], 1));
    ASSERT_EQ(alone.size(), 1u);
    EXPECT_TRUE(std::isfinite(alone[0]));
    EXPECT_NEAR(alone[0], batched[i], 0.05) << i;
  }
  EXPECT_TRUE(r->score("q", std::span<const std::string_view>()).empty());
}

TEST(LlmReranker, RejectsSmallBatches) {
  LlmRerankerOptions o;
  o.batch_tokens = 100;
  const std::string path = std::string(RAGD_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "default model not fetched (make models)";
  EXPECT_THROW(LlmReranker::open(path, o), Error);
}

}  // namespace
}  // namespace ragd::rag
