// Citations: markers → sources, and the cited span inside each source.
#include "rag/answer/citations.h"

#include <gtest/gtest.h>

namespace ragd::rag {
namespace {

PromptSource source(size_t n, std::string text, bool truncated = false) {
  PromptSource s;
  s.number = n;
  s.chunk_id = static_cast<int64_t>(100 + n);
  s.document_id = static_cast<int64_t>(10 + n);
  s.external_id = "doc" + std::to_string(n);
  s.title = "Title " + std::to_string(n);
  s.text = std::move(text);
  s.truncated = truncated;
  return s;
}

const std::string kParis = "Paris is in France. The Eiffel Tower was built in 1889. It is tall.";

TEST(Citations, SentenceSpans) {
  auto spans = sentence_spans(kParis);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0], std::make_pair(size_t{0}, size_t{19}));
  EXPECT_EQ(spans[1], std::make_pair(size_t{20}, size_t{55}));
  EXPECT_EQ(spans[2], std::make_pair(size_t{56}, size_t{67}));
  // A blank line ends a sentence; "3.5" does not.
  auto s = sentence_spans("Heading\n\nPi is about 3.14 here");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1], std::make_pair(size_t{9}, size_t{30}));
}

TEST(Citations, SpanIsTheBestOverlappingSentence) {
  auto c = cite("The Eiffel Tower was completed in 1889 [1]. It has 3 floors [7].", {source(1, kParis)});
  ASSERT_EQ(c.size(), 1u);  // [7] names no source
  EXPECT_EQ(c[0].number, 1u);
  EXPECT_EQ(c[0].external_id, "doc1");
  EXPECT_EQ(c[0].document_id, 11);
  EXPECT_EQ(c[0].chunk_id, 101);
  EXPECT_EQ(c[0].title, "Title 1");
  EXPECT_EQ(c[0].start, 20u);
  EXPECT_EQ(c[0].end, 55u);
  EXPECT_EQ(c[0].quote, "The Eiffel Tower was built in 1889.");
  EXPECT_EQ(c[0].overlap, 3u);  // eiffel, tower, 1889
}

TEST(Citations, MarkerAfterTheFullStopCitesThePreviousSentence) {
  auto c = cite("Paris lies in France. [1]", {source(1, kParis)});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].start, 0u);
  EXPECT_EQ(c[0].end, 19u);
}

TEST(Citations, OrderOfFirstCitationEachOnce) {
  auto c = cite("Tall [2]. Tower [1][2]. Also [2, 1].", {source(1, kParis), source(2, "It is tall. Very tall.")});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].number, 2u);
  EXPECT_EQ(c[1].number, 1u);
  EXPECT_EQ(c[0].quote, "It is tall.");  // ties keep the earlier sentence
}

TEST(Citations, NoOverlapFallsBackToTheFirstSentenceAndCutChunksKeepOffsets) {
  auto c = cite("Unrelated words [1].", {source(1, "First one. Second one …", /*truncated=*/true)});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].quote, "First one.");
  c = cite("Second one [1].", {source(1, "First one. Second one …", true)});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].quote, "Second one");  // the " …" the prompt added is not quoted
  EXPECT_EQ(c[0].start, 11u);
}

TEST(Citations, JsonRoundTrip) {
  auto c = cite("Eiffel Tower 1889 [1]", {source(1, kParis)});
  auto back = citations_from_json(citations_to_json(c));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].start, 20u);
  EXPECT_EQ(back[0].end, 55u);
  EXPECT_EQ(back[0].external_id, "doc1");
  EXPECT_EQ(citations_to_json(c)[0]["span"]["end"], 55);
  EXPECT_TRUE(cite("No markers here.", {source(1, kParis)}).empty());
}

}  // namespace
}  // namespace ragd::rag

namespace {

std::vector<ragd::rag::PromptSource> two_sources() {
  ragd::rag::PromptSource a, b;
  a.number = 1;
  a.text = "The University of Warsaw was established in 1816. It has many faculties.";
  b.number = 2;
  b.text = "The Saxon Garden covers 15.5 hectares. It was once a royal garden.";
  return {a, b};
}

}  // namespace

TEST(Attribute, MovesAMarkerToTheSourceThatSupportsItsSentence) {
  auto r = ragd::rag::attribute("The University of Warsaw was established in 1816 [2].", two_sources());
  EXPECT_EQ(r.text, "The University of Warsaw was established in 1816 [1].");
  EXPECT_EQ(r.moved, 1u);
  EXPECT_EQ(r.added, 0u);
}

TEST(Attribute, KeepsASupportedMarker) {
  const std::string answer = "The Saxon Garden was once a royal garden [2].";
  auto r = ragd::rag::attribute(answer, two_sources());
  EXPECT_EQ(r.text, answer);
  EXPECT_EQ(r.moved + r.added, 0u);
}

TEST(Attribute, MarksACopiedSentenceWithoutAMarker) {
  auto r = ragd::rag::attribute("The Saxon Garden covers 15.5 hectares.", two_sources());
  EXPECT_EQ(r.text, "The Saxon Garden covers 15.5 hectares [2].");
  EXPECT_EQ(r.added, 1u);
}

TEST(Attribute, LeavesUnsupportedSentencesAndMarkersAlone) {
  // No source shares half of these content words: nothing is moved or added.
  const std::string answer = "Penguins live in Antarctica and eat fish [1]. Volcanoes erupt lava often.";
  auto r = ragd::rag::attribute(answer, two_sources());
  EXPECT_EQ(r.text, answer);
  EXPECT_EQ(r.moved + r.added, 0u);
}

TEST(Attribute, AMarkerAfterTheFullStopVouchesForThePreviousSentence) {
  auto r = ragd::rag::attribute("Warsaw University was established in 1816. [2]", two_sources());
  EXPECT_EQ(r.text, "Warsaw University was established in 1816. [1]");
  EXPECT_EQ(r.moved, 1u);
  EXPECT_EQ(r.added, 0u);
}
