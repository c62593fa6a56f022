#include "rag/search/sentence_reranker.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>

#include "rag/search/rerank_fusion.h"
#include "rag/search/reranker_factory.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// Bag of words over hashed dimensions: cosine similarity rewards shared words.
class BowEmbedder : public Embedder {
 public:
  std::string name() const override { return "bow"; }
  size_t dim() const override { return 128; }
  std::vector<float> embed_query(std::string_view text) override {
    std::vector<float> v(128, 0.0f);
    std::string word;
    auto flush = [&] {
      if (!word.empty()) v[std::hash<std::string>{}(word) % 127] += 1;
      word.clear();
    };
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) word += static_cast<char>(std::tolower(c));
      else flush();
    }
    flush();
    v[127] = 0.01f;
    return v;
  }
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>& texts) override {
    ++passage_calls;
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) out.push_back(embed_query(t));
    passages_embedded += texts.size();
    return out;
  }
  size_t passage_calls = 0, passages_embedded = 0;
};

TEST(SplitSentences, SplitsAtSentenceEndsAndLines) {
  auto s = split_sentences("Title line here for the doc\nFirst sentence is here. Second one follows! "
                           "Third asks why? yes it does.",
                           1);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "Title line here for the doc");
  EXPECT_EQ(s[1], "First sentence is here.");
  EXPECT_EQ(s[2], "Second one follows!");
  EXPECT_EQ(s[3], "Third asks why? yes it does.");  // no upper-case letter after '?'
}

TEST(SplitSentences, KeepsDecimalsAndClosingQuotesJoinsShortFragments) {
  auto s = split_sentences("The dose was 2.5 mg (see \"Methods.\") Results were clear. Ok. Fine.", 1);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "The dose was 2.5 mg (see \"Methods.\")");
  // With the default minimum, "Ok." and "Fine." join their neighbours.
  auto joined = split_sentences("The dose was 2.5 mg in all arms. Ok. Fine. Results were clear in every arm.");
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[1], "Ok. Fine. Results were clear in every arm.");
  auto tail = split_sentences("A long enough first sentence here. Tiny.");
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0], "A long enough first sentence here. Tiny.");
}

TEST(SplitSentences, BlankAndShortTexts) {
  EXPECT_TRUE(split_sentences("").empty());
  EXPECT_TRUE(split_sentences(" \n\n  \t").empty());
  EXPECT_EQ(split_sentences("short"), std::vector<std::string>{"short"});
}

TEST(SentenceReranker, BestSentenceWinsOverDilutedChunk) {
  BowEmbedder emb;
  SentenceReranker r(emb);
  // Both mention lava once; the first buries it among unrelated sentences, but its best
  // sentence matches the query exactly, so it must score higher than a chunk that only
  // shares one word.
  std::string buried =
      "Whales swim in the deep cold ocean water. Forests grow tall trees in the north. "
      "Lava flows from the erupting volcano. Tea grows on hills in the south of China.";
  std::string shallow = "Volcano tourism is popular with many people every single summer.";
  std::vector<std::string_view> texts{shallow, buried, ""};
  auto scores = r.score("lava flows from the erupting volcano", texts);
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_GT(scores[1], scores[0]);
  EXPECT_NEAR(scores[1], 1.0, 1e-3);
  EXPECT_DOUBLE_EQ(scores[2], -1.0);  // no sentence at all
  EXPECT_EQ(emb.passage_calls, 1u);   // one batch for every candidate's sentences
  EXPECT_EQ(emb.passages_embedded, 5u);
}

TEST(SentenceReranker, WindowsJoinConsecutiveSentences) {
  BowEmbedder emb;
  SentenceRerankerOptions o;
  o.window = 2;
  SentenceReranker r(emb, o);
  std::string text = "Alpha beta gamma delta words. Epsilon zeta eta theta words. Iota kappa lambda mu words.";
  std::vector<std::string_view> texts{text};
  r.score("alpha", texts);
  EXPECT_EQ(emb.passages_embedded, 2u);  // windows 1-2 and 2-3
  o.window = 0;
  EXPECT_THROW(SentenceReranker(emb, o), Error);
}

TEST(RerankFusion, MixesMinMaxNormalisedScores) {
  std::string_view t = "x";
  std::vector<RerankCandidate> c{{1, t, 10}, {2, t, 20}, {3, t, 30}};
  std::vector<double> s{0.9, 0.5, 0.1};
  auto only_rerank = c;
  fuse_rerank_scores(only_rerank, s, 0.0);
  EXPECT_DOUBLE_EQ(only_rerank[0].score, 1.0);
  EXPECT_DOUBLE_EQ(only_rerank[2].score, 0.0);
  fuse_rerank_scores(c, s, 0.5);
  EXPECT_DOUBLE_EQ(c[0].score, 0.5);   // 0.5 × 0 + 0.5 × 1
  EXPECT_DOUBLE_EQ(c[1].score, 0.5);   // 0.5 × 0.5 + 0.5 × 0.5
  EXPECT_DOUBLE_EQ(c[2].score, 0.5);   // 0.5 × 1 + 0.5 × 0
  std::vector<RerankCandidate> same{{1, t, 3}, {2, t, 3}};
  std::vector<double> two{0.2, 0.2};
  fuse_rerank_scores(same, two, 0.3);
  EXPECT_DOUBLE_EQ(same[0].score, 1.0);  // all-equal lists map to 1
  EXPECT_THROW(fuse_rerank_scores(same, std::vector<double>{1.0}, 0.3), Error);
}

TEST(RerankerFactory, NamesAndErrors) {
  BowEmbedder emb;
  RerankerDeps deps;
  EXPECT_EQ(make_reranker("none", deps), nullptr);
  EXPECT_THROW(make_reranker("sentence", deps), Error);  // no embedder
  deps.embedder = &emb;
  auto r = make_reranker("sentence", deps);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name(), "sentence");
  EXPECT_DOUBLE_EQ(r->first_stage_weight(), SentenceRerankerOptions{}.first_stage_weight);
  deps.first_stage_weight = 0.25;
  EXPECT_DOUBLE_EQ(make_reranker("sentence", deps)->first_stage_weight(), 0.25);
  deps.first_stage_weight = 1.5;
  EXPECT_THROW(make_reranker("sentence", deps), Error);
  deps.first_stage_weight.reset();
  EXPECT_THROW(make_reranker("cross-encoder", deps), Error);
  EXPECT_THROW(make_reranker("llm:", deps), Error);
  EXPECT_THROW(make_reranker("llm:/no/such/model.gguf", deps), Error);
}

}  // namespace
}  // namespace ragd::rag
