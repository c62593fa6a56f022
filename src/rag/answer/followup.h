// Follow-up questions in a conversation about documents (RAG chat): the retrieval query
// for the last user message, written with the history by one documented rule:
//
//   The last user message is the question. If an earlier user message exists and the
//   question is short (fewer than kShortFollowUpWords words) or refers back (a pronoun or
//   demonstrative such as "it", "they", "this", "that", "there", "he", "she"), the
//   previous user message is prepended: "Where is Etna?" + "How tall is it?" →
//   "Where is Etna? How tall is it?". Otherwise the question stands alone.
//
// Assistant turns are not used: they are the model's words, not the user's intent, and
// would pull retrieval towards what was already answered.
#pragma once

#include <string>
#include <vector>

#include "model/chat_template.h"

namespace ragd::rag {

inline constexpr size_t kShortFollowUpWords = 5;

// "" when there is no user message.
std::string followup_query(const std::vector<model::ChatMessage>& messages);

}  // namespace ragd::rag
