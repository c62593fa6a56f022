// The GBNF recognizer (engine/gbnf_recognizer.h) on the sample grammars, byte by byte and
// across UTF-8 splits, and GbnfConstraint through Sampler with a real vocabulary: every
// finished output must match the grammar, checked by independent regular expressions.
#include "engine/gbnf_recognizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <random>
#include <regex>

#include "engine/gbnf_constraint.h"
#include "engine/generator.h"
#include "engine/output_processor.h"
#include "engine/sampler.h"
#include "gbnf_samples.h"
#include "model/gguf.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

bool accepts(const GbnfGrammar& g, std::string_view text) {
  GbnfRecognizer r(g);
  return r.feed(text) && r.complete();
}

TEST(GbnfRecognizer, SampleGrammarsAcceptAndReject) {
  for (const auto& sample : gbnf_samples()) {
    SCOPED_TRACE(sample.name);
    auto g = GbnfGrammar::parse(sample.text);
    for (const auto& text : sample.accepted) EXPECT_TRUE(accepts(*g, text)) << text;
    for (const auto& text : sample.rejected) EXPECT_FALSE(accepts(*g, text)) << text;
  }
}

// Every prefix of an accepted text is accepted byte by byte (also when fed in one piece),
// and next_bytes() is exactly the set of bytes can_feed() takes at every step.
TEST(GbnfRecognizer, PrefixesAndNextBytesAgree) {
  for (const auto& sample : gbnf_samples()) {
    SCOPED_TRACE(sample.name);
    auto g = GbnfGrammar::parse(sample.text);
    for (const auto& text : sample.accepted) {
      GbnfRecognizer r(*g);
      for (size_t i = 0; i < text.size(); ++i) {
        const auto next = r.next_bytes();
        for (int b = 0; b < 256; ++b) {
          const char c = static_cast<char>(b);
          ASSERT_EQ(next[static_cast<size_t>(b)], r.can_feed({&c, 1})) << "byte " << b << " after '" << text.substr(0, i) << "'";
        }
        ASSERT_TRUE(r.feed(text.substr(i, 1))) << "at byte " << i << " of " << text;
        GbnfRecognizer whole(*g);
        EXPECT_TRUE(whole.feed(text.substr(0, i + 1)));
      }
      EXPECT_TRUE(r.complete()) << text;
    }
  }
}

TEST(GbnfRecognizer, FailedFeedLeavesTheStateUnchanged) {
  auto g = GbnfGrammar::parse("root ::= \"yes\" | \"no\"\n");
  GbnfRecognizer r(*g);
  EXPECT_TRUE(r.feed("y"));
  EXPECT_FALSE(r.feed("eo"));
  EXPECT_FALSE(r.complete());
  EXPECT_TRUE(r.can_feed("es"));
  EXPECT_TRUE(r.feed("es"));
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.done());
  EXPECT_TRUE(r.next_bytes().none());
}

TEST(GbnfRecognizer, DoneOnlyWhenNothingMayFollow) {
  auto g = GbnfGrammar::parse("root ::= [0-9]+\n");
  GbnfRecognizer r(*g);
  EXPECT_FALSE(r.complete());
  EXPECT_TRUE(r.feed("42"));
  EXPECT_TRUE(r.complete());
  EXPECT_FALSE(r.done());  // more digits may follow
  auto empty = GbnfGrammar::parse("root ::= \"\"\n");
  GbnfRecognizer e(*empty);
  EXPECT_TRUE(e.done());
}

TEST(GbnfRecognizer, CodePointsSplitAcrossFeeds) {
  auto g = GbnfGrammar::parse("root ::= [α-ω]+\n");  // U+03B1..U+03C9: CE B1 .. CF 89
  GbnfRecognizer r(*g);
  EXPECT_FALSE(r.can_feed("a"));
  EXPECT_TRUE(r.feed("\xCE"));
  EXPECT_FALSE(r.complete());  // half a character is not a sentence
  auto next = r.next_bytes();
  for (int b = 0; b < 256; ++b) EXPECT_EQ(next[static_cast<size_t>(b)], b >= 0xB1 && b <= 0xBF) << b;
  EXPECT_FALSE(r.can_feed("\x80"));  // U+0380 is outside the class
  EXPECT_TRUE(r.feed("\xB1"));
  EXPECT_TRUE(r.complete());
  EXPECT_FALSE(r.can_feed("\xCF\x8A"));  // U+03CA
  EXPECT_TRUE(r.feed("\xCF"));
  EXPECT_TRUE(r.feed("\x89"));
  EXPECT_TRUE(r.complete());
  // Malformed UTF-8 is never accepted, even by '.'.
  auto any = GbnfGrammar::parse("root ::= .*\n");
  GbnfRecognizer a(*any);
  for (std::string bad : {"\x80", "\xC0\x80", "\xC1", "\xE0\x80", "\xED\xA0\x80", "\xF4\x90", "\xF5", "\xFF"}) {
    EXPECT_FALSE(a.can_feed(bad)) << bad;
  }
  EXPECT_TRUE(a.feed("\xF0\x9F\x98\x80\xE2\x82\xAC"));
}

TEST(GbnfRecognizer, DeepNestingIsBoundedNotACrash) {
  auto g = GbnfGrammar::parse("root ::= \"(\" root \")\" | \"x\"\n");
  GbnfRecognizer r(*g);
  EXPECT_TRUE(r.feed(std::string(100, '(') + "x" + std::string(100, ')')));
  EXPECT_TRUE(r.complete());
  GbnfRecognizer deep(*g);
  bool refused = false;
  for (size_t i = 0; i < 2 * GbnfRecognizer::kMaxDepth && !refused; ++i) refused = !deep.feed("(");
  EXPECT_TRUE(refused);  // past kMaxDepth open groups the interpretation is dropped
}

TEST(GbnfRecognizer, AmbiguousGrammarsStayBounded) {
  // Every split of a run of a's is a parse: without merging and bounds, the stacks would
  // grow exponentially with the input.
  auto g = GbnfGrammar::parse("root ::= (a | a a | a a a)*\na ::= \"a\"+\n");
  GbnfRecognizer r(*g);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(r.feed(std::string(300, 'a')));
  EXPECT_TRUE(r.complete());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(GbnfRecognizer, HostileGrammarsKeepTheStateBounded) {
  // After n a's, every sequence of n closers is a distinct stack n + 1 deep: without the
  // position cap the state would grow to kMaxStacks stacks of kMaxDepth positions (half a
  // million), and every candidate token's check would copy and expand all of them.
  auto g = GbnfGrammar::parse("root ::= e\ne ::= (\"a\" e \"b\" | \"a\" e \"c\" | \"a\" e \"d\")?\n");
  GbnfRecognizer r(*g);
  size_t largest = 0;
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(r.feed("a")) << i;
    EXPECT_LE(r.positions(), GbnfRecognizer::kMaxPositions) << i;
    largest = std::max(largest, r.positions());
    const auto next = r.next_bytes();
    EXPECT_TRUE(next['a'] && next['b'] && next['c'] && next['d']) << i;
  }
  EXPECT_GT(largest, GbnfRecognizer::kMaxPositions / 2);  // the cap, not the grammar, bounded it
  // What is kept is still a valid interpretation: closing it is accepted.
  GbnfRecognizer small(*g);
  EXPECT_TRUE(small.feed("aaacbd"));
  EXPECT_TRUE(small.complete());
}

// Constrained sampling with real vocabularies and random logits in place of a model.
class GbnfConstraintTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string path = std::string(RAGD_SHARED_DIR) + "/data/tokenizer/" + GetParam();
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    file_ = model::GgufFile::open(path);
    tokenizer_ = model::Tokenizer::from_gguf(*file_);
  }

  // Generates up to max_tokens; returns the text and whether the output was completed.
  std::pair<std::string, bool> generate(const std::string& grammar, SamplingParams params, std::mt19937& rng,
                                        size_t max_tokens) {
    GenerationOptions options;
    options.sampling = params;
    options.grammar = GbnfGrammar::parse(grammar);
    Sampler sampler = make_sampler(options, *tokenizer_);
    std::normal_distribution<float> noise(0.0f, 2.0f);
    std::vector<float> logits(tokenizer_->vocab_size());
    std::string text;
    std::vector<int32_t> history;
    for (size_t i = 0; i < max_tokens; ++i) {
      for (float& l : logits) l = noise(rng);
      const int32_t id = sampler.sample(logits, history);
      history.push_back(id);
      if (ends_generation(options, *tokenizer_, id)) return {text, true};
      text += tokenizer_->token_to_piece(id);
      if (sampler.constraint_done()) return {text, true};
    }
    return {text, false};
  }

  std::unique_ptr<model::GgufFile> file_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
};

TEST_P(GbnfConstraintTest, EveryOutputMatchesItsGrammar) {
  const std::string move = R"((([a-h]x)?[a-h][1-8](=[NBKQR])?|[NBKQR][a-h]?[1-8]?x?[a-h][1-8]|O-O(-O)?)[+#]?)";
  const std::vector<std::pair<std::string, std::regex>> cases = {
      {"root ::= (\"yes\" | \"no\")\n", std::regex("yes|no")},
      {"root ::= \"[\" [0-9]{1,3} (\", \" [0-9]{1,3}){0,9} \"]\"\n", std::regex(R"(\[[0-9]{1,3}(, [0-9]{1,3}){0,9}\])")},
      {"root ::= [a-z]{2,8} (\" \" [a-z]{2,8}){0,3} \".\"\n", std::regex(R"([a-z]{2,8}( [a-z]{2,8}){0,3}\.)")},
      {gbnf_samples()[4].text, std::regex("1\\. " + move + " " + move + "\n([1-9][0-9]?\\. " + move + " " + move + "\n)+")},
  };
  std::mt19937 rng(99);
  size_t finished = 0, runs = 0;
  for (const auto& [grammar, pattern] : cases) {
    for (int run = 0; run < 4; ++run) {
      SamplingParams params;
      params.temperature = run == 0 ? 0.0f : 1.0f;
      params.top_k = run == 3 ? 0 : 40;
      params.seed = static_cast<uint64_t>(run);
      auto [text, done] = generate(grammar, params, rng, 60);
      ++runs;
      // Unfinished output is still a valid prefix of the grammar.
      const auto g = GbnfGrammar::parse(grammar);
      GbnfRecognizer prefix(*g);
      EXPECT_TRUE(prefix.feed(text)) << text;
      if (!done) continue;
      ++finished;
      EXPECT_TRUE(std::regex_match(text, pattern)) << grammar << "\n" << text;
    }
  }
  EXPECT_GE(finished * 2, runs) << "too few outputs finished within the token budget";
}

TEST_P(GbnfConstraintTest, JsonGrammarOutputParses) {
  std::mt19937 rng(5);
  for (int run = 0; run < 4; ++run) {
    SamplingParams params;
    params.temperature = run == 0 ? 0.0f : 1.0f;
    params.seed = static_cast<uint64_t>(run);
    auto [text, done] = generate(gbnf_samples()[3].text, params, rng, 120);
    if (!done) continue;
    EXPECT_TRUE(nlohmann::json::accept(text)) << text;
  }
}

TEST_P(GbnfConstraintTest, MaskKeepsOnlyValidTokens) {
  GbnfConstraint c(GbnfGrammar::parse("root ::= (\"yes\" | \"no\")\n"), *tokenizer_);
  std::vector<float> logits(tokenizer_->vocab_size(), 0.0f);
  c.mask(logits, 1000);
  size_t finite = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] == -std::numeric_limits<float>::infinity()) continue;
    ++finite;
    const std::string& piece = tokenizer_->token_to_piece(static_cast<int32_t>(i));
    EXPECT_TRUE(std::string("yes").starts_with(piece) || std::string("no").starts_with(piece)) << piece;
  }
  EXPECT_GE(finite, 2u);
  const auto eog = tokenizer_->end_of_generation_ids();
  if (!eog.empty()) {
    EXPECT_FALSE(c.valid(eog[0]));
  }
  auto no = tokenizer_->find_token("no");
  ASSERT_TRUE(no.has_value());
  c.accept(*no);
  EXPECT_TRUE(c.done());
  if (!eog.empty()) {
    EXPECT_TRUE(c.valid(eog[0]));
  }
  EXPECT_THROW(c.accept(*no), Error);
}

TEST_P(GbnfConstraintTest, BanningEveryValidTokenIsAnError) {
  GenerationOptions options;
  options.sampling.temperature = 0.0f;
  for (size_t i = 0; i < tokenizer_->vocab_size(); ++i) {
    const std::string& piece = tokenizer_->token_to_piece(static_cast<int32_t>(i));
    if (!piece.empty() && (piece[0] == 'y' || piece[0] == 'n')) {
      options.sampling.logit_bias[static_cast<int32_t>(i)] = -std::numeric_limits<float>::infinity();
    }
  }
  options.grammar = GbnfGrammar::parse("root ::= (\"yes\" | \"no\")\n");
  Sampler sampler = make_sampler(options, *tokenizer_);
  std::vector<float> logits(tokenizer_->vocab_size(), 0.0f);
  EXPECT_THROW(sampler.sample(logits, {}), Error);
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, GbnfConstraintTest,
                         ::testing::Values("ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"),
                         [](const auto& info) { return std::string(info.param).find("gpt") != std::string::npos ? "Gpt2" : "LlamaSpm"; });

}  // namespace
}  // namespace ragd::engine
