#include "rag/ingest/chunker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "rag/ingest/token_counter.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

size_t words(std::string_view s) {
  size_t n = 0;
  bool in = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

ChunkerOptions word_counting(size_t size, size_t overlap) {
  ChunkerOptions o;
  o.chunk_tokens = size;
  o.overlap_tokens = overlap;
  o.count_tokens = words;
  o.counter_name = "words";
  return o;
}

Document doc_with(std::string text, std::string title = "T") {
  Document d;
  d.title = std::move(title);
  d.sections.push_back(Section{"", std::move(text)});
  return d;
}

std::string numbered_sentences(int n, int words_each) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += fmt::format("S{}", i);
    for (int w = 1; w < words_each; ++w) s += " w";
    s += ". ";
  }
  return s;
}

TEST(ApproxTokenCount, CountsWordsPunctuationAndLongWords) {
  EXPECT_EQ(approx_token_count(""), 0u);
  EXPECT_EQ(approx_token_count("hello world"), 2u);
  EXPECT_EQ(approx_token_count("hello, world!"), 4u);
  EXPECT_EQ(approx_token_count("microstructural"), 3u);  // 15 chars: 1 + ceil(7/4)
  EXPECT_EQ(approx_token_count("naïve café"), 2u);        // accented letters stay in words
  EXPECT_EQ(approx_token_count("日本語"), 3u);             // one token per CJK character
}

TEST(ApproxTokenCount, IsAdditiveOverWords) {
  std::string a = "The quick brown fox, jumping (over) 42 lazy dogs.";
  size_t sum = 0;
  size_t start = 0;
  while (start < a.size()) {
    size_t sp = a.find(' ', start);
    if (sp == std::string::npos) sp = a.size();
    sum += approx_token_count(std::string_view(a).substr(start, sp - start));
    start = sp + 1;
  }
  EXPECT_EQ(approx_token_count(a), sum);
}

TEST(Chunker, ShortDocumentIsOneChunkWithTitleAndHeading) {
  Document d = doc_with("A short text.", "My title");
  d.sections[0].heading = "Intro > Setup";
  auto chunks = Chunker(ChunkerOptions{}).chunk(d);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "A short text.");
  EXPECT_EQ(chunks[0].title, "My title");
  EXPECT_EQ(chunks[0].heading, "Intro > Setup");
  EXPECT_EQ(chunks[0].token_count, approx_token_count("A short text."));
}

TEST(Chunker, RespectsTheBudgetAndOverlaps) {
  Chunker chunker(word_counting(50, 10));
  auto chunks = chunker.chunk(doc_with(numbered_sentences(40, 7)));  // 280 words
  ASSERT_GT(chunks.size(), 5u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(chunks[i].token_count, 50u) << i;
    if (i + 1 < chunks.size()) {
      EXPECT_GE(chunks[i].token_count, 25u) << i;  // at least half full
      // The next chunk starts with a sentence that this one ends with (overlap ≤ 10 words).
      std::string first = chunks[i + 1].text.substr(0, chunks[i + 1].text.find('.') + 1);
      EXPECT_NE(chunks[i].text.find(first), std::string::npos) << i;
      EXPECT_LE(words(first), 10u);
    }
  }
}

TEST(Chunker, EndsChunksAtSentenceBoundaries) {
  Chunker chunker(word_counting(50, 0));
  for (const auto& c : chunker.chunk(doc_with(numbered_sentences(40, 7)))) {
    EXPECT_EQ(c.text.back(), '.') << c.text;
    EXPECT_EQ(c.text[0], 'S') << c.text;
  }
}

TEST(Chunker, PrefersParagraphBreaks) {
  // Two paragraphs of 30 words: a 50-word budget must split between them, not mid-way
  // through the second paragraph.
  std::string p1 = numbered_sentences(5, 6), p2 = numbered_sentences(5, 6);
  Chunker chunker(word_counting(50, 0));
  auto chunks = chunker.chunk(doc_with(p1 + "\n\n" + p2));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(words(chunks[0].text), 30u);
  EXPECT_EQ(words(chunks[1].text), 30u);
}

TEST(Chunker, SplitsAnOverlongSentenceBetweenWords) {
  std::string s;
  for (int i = 0; i < 120; ++i) s += fmt::format("word{} ", i);
  auto chunks = Chunker(word_counting(50, 5)).chunk(doc_with(s));
  ASSERT_GE(chunks.size(), 3u);
  for (const auto& c : chunks) EXPECT_LE(c.token_count, 50u);
  EXPECT_NE(chunks.back().text.find("word119"), std::string::npos);
}

TEST(Chunker, KeepsSectionsApartAndTitleOnlyDocuments) {
  Document d;
  d.title = "Doc";
  d.sections = {Section{"A", "alpha text."}, Section{"B", "beta text."}};
  auto chunks = Chunker(ChunkerOptions{}).chunk(d);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].heading, "A");
  EXPECT_EQ(chunks[1].heading, "B");

  Document title_only;
  title_only.title = "Only a title";
  auto t = Chunker(ChunkerOptions{}).chunk(title_only);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].title, "Only a title");
  EXPECT_TRUE(Chunker(ChunkerOptions{}).chunk(Document{}).empty());
}

TEST(Chunker, RejectsImpossibleSettingsAndSignsThem) {
  EXPECT_THROW(Chunker(word_counting(4, 0)), Error);
  EXPECT_THROW(Chunker(word_counting(100, 50)), Error);
  EXPECT_NE(word_counting(100, 10).signature(), word_counting(100, 11).signature());
  EXPECT_NE(ChunkerOptions{}.signature(), word_counting(512, 50).signature());
}

}  // namespace
}  // namespace ragd::rag
