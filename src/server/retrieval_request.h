// The retrieval fields of a request body, shared by /v1/search and RAG chat
// (/v1/chat/completions with a `collection`): each either valid or ApiError(400) naming
// the field.
//   collection  string                     (required by the caller, not read here)
//   top_k       1..max_top_k
//   mode        "bm25" | "dense" | "hybrid" (default: hybrid when the collection has vectors)
//   fusion      "weighted" | "rrf"          (hybrid)
//   level       "chunks" | "documents"
//   profile     "fast" | "default" | "quality"
//   filters     ["KEY=VALUE", "KEY!=VALUE", ...] or {"KEY": "VALUE", ...}
//   min_score   number
//   cache       bool (use the result cache)
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

#include "rag/answer/retrieval_service.h"

namespace ragd::server {

// The fields parse_retrieval_fields reads (callers refuse any other: server/known_fields.h).
inline constexpr std::string_view kRetrievalFields[] = {"top_k",   "mode",      "fusion", "level",
                                                        "profile", "filters",   "min_score", "cache"};

void parse_retrieval_fields(const nlohmann::json& body, rag::RetrievalRequest& out, size_t max_top_k);

}  // namespace ragd::server
