// PromptBuilder: the chat messages of a retrieval-augmented answer.
//
// Layout (two messages):
//   system  the fixed instructions, then "Sources:" and each retrieved chunk as
//           "[n] title\ntext", numbered from 1 in retrieval order
//   user    the question
// Everything that depends only on the retrieved chunks comes first and the question last,
// so two questions answered from the same chunks render to prompts with a common token
// prefix, which the scheduler's prefix cache computes once.
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
#include "rag/retriever.h"
#include "rag/token_counter.h"

namespace ragd::rag {

inline constexpr std::string_view kRagSystemPrompt =
    "You answer questions using only the numbered sources below. Cite the sources that "
    "support each statement by their numbers in square brackets, like [1] or [2]. If the "
    "sources do not contain the answer, say that you do not know.";

struct PromptOptions {
  std::string system_prompt = std::string(kRagSystemPrompt);
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
