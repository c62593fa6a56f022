// PromptBuilder: the chat messages of a retrieval-augmented answer.
//
// Layout (placement BeforeQuestion, the default):
//   system     the fixed instructions (answer in a sentence, cite [n], or say the documents
//              do not contain it)
//   user       } one worked example: sources and a question,
//   assistant  } and a short answer that cites its source
//   user       "Sources:", each retrieved chunk as "[n] title\ntext" numbered from 1 in
//              retrieval order (listed from the last to [1] with best_source_last), then
//              "Question: ..." last
// Small models follow an example far better than an instruction, and cite more reliably
// when the numbered sources sit right before the question. Everything before the last
// message is fixed, so the scheduler's prefix cache computes it once for all questions.
// Placement System is the older layout (sources inside the system message, the bare
// question as the user message), kept for comparison (docs/retrieval.md).
//
// Budget: the sources together get at most max_source_tokens tokens, as counted by the
// caller's TokenCounter (the LLM's tokenizer). Chunks are taken in order while they fit;
// the first that does not fit is cut at a word boundary if at least min_source_tokens of
// its text fit, and nothing after it is included. Only included chunks are numbered.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/chat_template.h"
#include "rag/search/retriever.h"
#include "rag/ingest/token_counter.h"

namespace ragd::rag {

inline constexpr std::string_view kRagSystemPrompt =
    "You answer questions using only the numbered sources you are given. Answer in one short "
    "sentence that states the answer, and cite the sources you used by their numbers in "
    "square brackets, like [1]. If the sources do not contain the answer, reply: The documents "
    "do not contain the answer.";

// The instructions of the older System layout (kept to measure against, docs/retrieval.md).
inline constexpr std::string_view kLegacyRagSystemPrompt =
    "You answer questions using only the numbered sources below. Cite the sources that "
    "support each statement by their numbers in square brackets, like [1] or [2]. If the "
    "sources do not contain the answer, say that you do not know.";

// The worked example (placement BeforeQuestion, worked_example on).
inline constexpr std::string_view kExampleQuestion =
    "Sources:\n\n[1] Mount Etna\nMount Etna is an active volcano on the east coast of Sicily. "
    "It is 3,357 metres tall and erupts often.\n\n[2] Green tea\nGreen tea is made from leaves "
    "that have not been oxidised.\n\nQuestion: How tall is Mount Etna?";
// The answer refers to the question's subject instead of restating it: on squad-dev10
// questions 300-399 this kept the answers as often right (contains 0.68 vs 0.67) and cut
// them from 22 to 18 tokens, raising token F1 from 0.29 to 0.39 (docs/retrieval.md).
inline constexpr std::string_view kExampleAnswer = "It is 3,357 metres tall [1].";

enum class SourcePlacement { BeforeQuestion, System };

struct PromptOptions {
  std::string system_prompt = std::string(kRagSystemPrompt);
  SourcePlacement placement = SourcePlacement::BeforeQuestion;
  bool worked_example = true;
  std::string example_answer = std::string(kExampleAnswer);  // the worked example's answer
  // BeforeQuestion placement: list the sources from the least to the most relevant, so
  // that source [1] sits right before the question (numbers stay in retrieval order). Off
  // by default: on squad-dev10 it raised contains from 0.743 to 0.767 (300 questions) but
  // lowered citation precision (0.847 to 0.816), and on this repository's docs the 1.5B
  // model then cited the first-listed source [2] for "How do I run the tests?".
  bool best_source_last = false;
  size_t max_source_tokens = 1500;
  size_t min_source_tokens = 32;  // a cut chunk keeps at least this much, or is dropped
};

// A chunk as the prompt shows it.
struct PromptSource {
  size_t number = 0;  // [number] in the prompt, from 1
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  std::string external_id;
  std::string title;
  std::string text;  // as included (possibly cut)
  double score = 0;
  bool truncated = false;
};

struct RagPrompt {
  std::vector<model::ChatMessage> messages;
  std::vector<PromptSource> sources;
  size_t source_tokens = 0;  // tokens the sources' text used (by the counter)
  size_t dropped = 0;        // hits left out for the budget
};

RagPrompt build_rag_prompt(std::string_view question, const std::vector<SearchHit>& hits,
                           const TokenCounter& count_tokens, const PromptOptions& options = {});

// The sources an answer cites as [n] (also "[1, 3]" and "[1][2]"), in order of first
// citation, each once; numbers without a source are ignored. Empty when nothing is cited.
std::vector<PromptSource> citations(std::string_view answer, const std::vector<PromptSource>& sources);

}  // namespace ragd::rag
