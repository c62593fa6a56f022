#include "rag/answer/prompt_builder.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ragd::rag {
namespace {

// One token per whitespace-separated word: easy to reason about in budgets.
size_t words(std::string_view text) {
  size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

SearchHit hit(int64_t chunk, std::string title, std::string text, std::string heading = "") {
  SearchHit h;
  h.chunk_id = chunk;
  h.document_id = chunk * 10;
  h.external_id = fmt::format("doc{}", chunk);
  h.title = std::move(title);
  h.heading = std::move(heading);
  h.text = std::move(text);
  h.score = 1.0 / static_cast<double>(chunk);
  return h;
}

std::string n_words(size_t n, const std::string& word) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += fmt::format("{}{}{}", i ? " " : "", word, i);
  return s;
}

TEST(PromptBuilder, SourcesBeforeTheQuestionAfterAWorkedExample) {
  std::vector<SearchHit> hits = {hit(1, "Paris", "Paris is the capital of France."),
                                 hit(2, "Lyon", "Lyon is a city.", "Geography")};
  auto p = build_rag_prompt("What is the capital of France?", hits, words);
  ASSERT_EQ(p.messages.size(), 4u);
  EXPECT_EQ(p.messages[0].role, "system");
  EXPECT_EQ(p.messages[0].content, std::string(kRagSystemPrompt));
  EXPECT_EQ(p.messages[1].role, "user");
  EXPECT_EQ(p.messages[1].content, std::string(kExampleQuestion));
  EXPECT_EQ(p.messages[2].role, "assistant");
  EXPECT_EQ(p.messages[2].content, std::string(kExampleAnswer));
  EXPECT_EQ(p.messages[3].role, "user");
  EXPECT_EQ(p.messages[3].content,
            "Sources:\n\n[1] Paris\nParis is the capital of France.\n\n[2] Lyon — Geography\nLyon is a city."
            "\n\nQuestion: What is the capital of France?");
  // best_source_last: still numbered in retrieval order, listed so that [1] is last.
  PromptOptions best_last;
  best_last.best_source_last = true;
  p = build_rag_prompt("What is the capital of France?", hits, words, best_last);
  EXPECT_EQ(p.messages[3].content,
            "Sources:\n\n[2] Lyon — Geography\nLyon is a city.\n\n[1] Paris\nParis is the capital of France."
            "\n\nQuestion: What is the capital of France?");
  PromptOptions no_example;
  no_example.worked_example = false;
  p = build_rag_prompt("What is the capital of France?", hits, words, no_example);
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[1].content.rfind("Sources:\n\n[1] Paris", 0), 0u);
}

TEST(PromptBuilder, SystemPlacementPutsSourcesInTheSystemMessage) {
  std::vector<SearchHit> hits = {hit(1, "Paris", "Paris is the capital of France."),
                                 hit(2, "Lyon", "Lyon is a city.", "Geography")};
  PromptOptions o;
  o.placement = SourcePlacement::System;
  auto p = build_rag_prompt("What is the capital of France?", hits, words, o);
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[0].role, "system");
  EXPECT_EQ(p.messages[1].role, "user");
  EXPECT_EQ(p.messages[1].content, "What is the capital of France?");
  const std::string& sys = p.messages[0].content;
  EXPECT_EQ(sys.rfind(std::string(kRagSystemPrompt), 0), 0u);
  const size_t one = sys.find("[1] Paris\nParis is the capital of France.");
  const size_t two = sys.find("[2] Lyon — Geography\nLyon is a city.");
  ASSERT_NE(one, std::string::npos);
  ASSERT_NE(two, std::string::npos);
  EXPECT_LT(one, two);
  ASSERT_EQ(p.sources.size(), 2u);
  EXPECT_EQ(p.sources[1].number, 2u);
  EXPECT_EQ(p.sources[1].chunk_id, 2);
  EXPECT_EQ(p.sources[1].external_id, "doc2");
  EXPECT_EQ(p.source_tokens, words(hits[0].text) + words(hits[1].text));
  EXPECT_EQ(p.dropped, 0u);
}

TEST(PromptBuilder, SameChunksGiveTheSamePrefixForDifferentQuestions) {
  std::vector<SearchHit> hits = {hit(1, "A", "alpha"), hit(2, "B", "beta")};
  auto p = build_rag_prompt("first question?", hits, words);
  auto q = build_rag_prompt("a different one", hits, words);
  ASSERT_EQ(p.messages.size(), q.messages.size());
  for (size_t i = 0; i + 1 < p.messages.size(); ++i) EXPECT_EQ(p.messages[i].content, q.messages[i].content);
  EXPECT_EQ(p.messages.back().content.rfind("Sources:\n\n[1] A\nalpha\n\n[2] B\nbeta\n\nQuestion: ", 0), 0u);
  EXPECT_NE(p.messages.back().content, q.messages.back().content);
}

TEST(PromptBuilder, CutsTheLastSourceToTheBudget) {
  std::vector<SearchHit> hits = {hit(1, "A", n_words(10, "a")), hit(2, "B", n_words(10, "b")),
                                 hit(3, "C", n_words(10, "c")), hit(4, "D", n_words(10, "d"))};
  PromptOptions o;
  o.max_source_tokens = 25;
  o.min_source_tokens = 3;
  auto p = build_rag_prompt("q", hits, words, o);
  ASSERT_EQ(p.sources.size(), 3u);
  EXPECT_FALSE(p.sources[1].truncated);
  EXPECT_TRUE(p.sources[2].truncated);
  EXPECT_EQ(p.sources[2].text, "c0 c1 c2 c3 c4 …");
  EXPECT_EQ(p.source_tokens, 25u);
  EXPECT_EQ(p.dropped, 1u);
  EXPECT_EQ(p.messages.back().content.find("d0"), std::string::npos);
  EXPECT_NE(p.messages.back().content.find("c4 …"), std::string::npos);

  o.min_source_tokens = 6;  // 5 words left is too little: drop instead of cutting
  p = build_rag_prompt("q", hits, words, o);
  ASSERT_EQ(p.sources.size(), 2u);
  EXPECT_EQ(p.source_tokens, 20u);
  EXPECT_EQ(p.dropped, 2u);
}

TEST(PromptBuilder, NoHitsStillAsksTheQuestion) {
  auto p = build_rag_prompt("anything?", {}, words);
  EXPECT_TRUE(p.sources.empty());
  EXPECT_EQ(p.messages.back().role, "user");
  EXPECT_EQ(p.messages.back().content, "anything?");
}

TEST(PromptBuilder, CitationsInOrderOfFirstMention) {
  std::vector<SearchHit> hits = {hit(1, "A", "a"), hit(2, "B", "b"), hit(3, "C", "c")};
  auto p = build_rag_prompt("q", hits, words);
  auto cited = citations("B says so [2], and [1, 3] agree; see also [2][9], [a1] and [1.5].",
                         p.sources);
  ASSERT_EQ(cited.size(), 3u);
  EXPECT_EQ(cited[0].number, 2u);
  EXPECT_EQ(cited[1].number, 1u);
  EXPECT_EQ(cited[2].number, 3u);
  EXPECT_EQ(cited[2].chunk_id, 3);
  EXPECT_TRUE(citations("No sources cited here.", p.sources).empty());
  EXPECT_TRUE(citations("Out of range [0] [4] [99999999999999999999]", p.sources).empty());
  EXPECT_TRUE(citations("unterminated [1", p.sources).empty());
}

}  // namespace
}  // namespace ragd::rag
