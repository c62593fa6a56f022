// Citations: which numbered sources an answer cites ([n] markers), and for each the span of
// the source text the answer relied on.
//
// The span is found honestly and simply: the answer sentence that carries the [n] marker
// (markers removed) is compared with each sentence of source n, and the source sentence
// sharing the most distinct content words with it wins (ties: the earlier one; no shared
// word: the first sentence). When a source is cited from several answer sentences, the
// best-overlapping pair wins. Offsets are byte offsets into the source's chunk text,
// [start, end), ending before trailing whitespace; for a chunk cut to fit the prompt they
// still index the stored chunk text, of which the prompt shows a prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/answer/prompt_builder.h"

namespace ragd::rag {

struct Citation {
  size_t number = 0;  // [number] in the prompt
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  std::string external_id;  // the document's id as ingested
  std::string title;
  size_t start = 0, end = 0;  // the cited span in the chunk text
  std::string quote;          // the chunk text at [start, end)
  size_t overlap = 0;         // content words shared with the citing sentence
};

// A "[n]" or "[n, m]" marker in an answer: where its '[' is and the numbers it names.
// Brackets holding anything but digits, commas and spaces ("[a1]", "[1.5]") are none.
struct CitationMarker {
  size_t offset = 0;
  std::vector<size_t> numbers;
};
std::vector<CitationMarker> citation_markers(std::string_view answer);

// The cited sources of `answer` in order of first citation, each once; numbers without a
// source are ignored. Empty when nothing is cited.
std::vector<Citation> cite(std::string_view answer, const std::vector<PromptSource>& sources);

// Verified citations. A small model often writes the right sentence and the wrong number
// ("… in 1816 [2]" when source 1 says so), or copies a source's sentence without a marker.
// attribute() checks every answer sentence against the sources' sentences: its support by
// source n is the largest share of the sentence's distinct content words found in one
// sentence of source n. A marker naming a source that gives less than `min_support` is
// moved to the best-supporting source when that one reaches `min_support`; a sentence
// without a marker whose best support reaches `min_support` gets one at its end. Sentences
// with fewer than two content words are left alone, as are markers no source supports
// better. The returned text is the answer users see; cite() then lists its markers.
struct AttributedAnswer {
  std::string text;
  size_t moved = 0;  // marker numbers replaced by a better-supporting source
  size_t added = 0;  // markers added to unmarked sentences
};
inline constexpr double kMinCitationSupport = 0.5;
AttributedAnswer attribute(std::string_view answer, const std::vector<PromptSource>& sources,
                           double min_support = kMinCitationSupport);

// Sentence boundaries of `text`: [start, end) pairs covering its non-blank sentences. A
// sentence ends after '.', '!' or '?' followed by whitespace, or at a blank line.
std::vector<std::pair<size_t, size_t>> sentence_spans(std::string_view text);

nlohmann::json citations_to_json(const std::vector<Citation>& citations);
std::vector<Citation> citations_from_json(const nlohmann::json& j);

}  // namespace ragd::rag
