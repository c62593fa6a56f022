// RAG through /v1/chat/completions: a chat request with a `collection` field is answered
// from that collection's documents by the answer service, in OpenAI's chat shape plus
// `citations` and `sources` (streamed: `sources` on the first chunk, `citations` on the
// one carrying finish_reason).
//
// The question is the last user message; a follow-up is rewritten with the previous user
// message first (rag/answer/followup.h), and that text is both the retrieval query and
// the question in the prompt. The client's system messages are not used: the RAG system
// prompt (with its citation instructions) is. Retrieval options go in an optional `rag`
// object: {"top_k", "mode", "fusion", "profile", "filters", "min_score", "cache"}
// (top-level top_k stays the sampler's, as in OpenAI's API).
#pragma once

#include <nlohmann/json.hpp>

#include "server/http_server.h"
#include "server/server_context.h"

namespace ragd::server {

bool is_rag_chat(const nlohmann::json& body);
nlohmann::json run_rag_chat(ServerContext& ctx, const nlohmann::json& body, const RequestInfo& info);
void stream_rag_chat(ServerContext& ctx, const nlohmann::json& body, const RequestInfo& info, httplib::Response& res);

}  // namespace ragd::server
