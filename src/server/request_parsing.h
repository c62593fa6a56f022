// Request parsing: JSON bodies of the HTTP API → validated request structs.
//
// Every function here either returns a fully valid request or throws ApiError(400, ...)
// naming the offending field ("'messages' must be a non-empty array"). Nothing is looked up
// (models, collections): that happens in the routes, which answer 404 for unknown names.
// A field an endpoint does not implement is refused with a 400 naming it, never ignored
// (server/known_fields.h); fields harmless at their no-op value (`store: false`) are accepted
// with that value only. Chat tools (`tools`, `tool_choice`, `parallel_tool_calls`, `tool`
// messages and assistant `tool_calls`) are read by server/tool_calls.h.
//
// Sampling defaults are ragd's (engine/sampler.h: temperature 0.8, top_k 40, top_p 0.95,
// min_p 0.05) rather than OpenAI's 1.0 / off, because small local models ramble without
// truncation; a request that sets a field gets exactly what it asked for.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generation_request.h"
#include "engine/json_schema.h"
#include "model/chat_template.h"
#include "rag/search/retriever.h"
#include "server/tool_calls.h"

namespace ragd::server {

// Parses a request body; throws ApiError(400) for invalid JSON, nesting deeper than
// kMaxJsonDepth (util/json_limits.h), or a non-object.
nlohmann::json parse_json_body(std::string_view body);

// Fields shared by chat, completions and RAG generation.
struct GenerationParams {
  std::string model;                   // empty: the default model
  engine::GenerationOptions options;   // max_tokens, stop, sampling
  size_t priority = 1;                 // ragd extension: 0 (highest) .. 2
  std::string user;                    // OpenAI `user`, a fairness key
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  // OpenAI `n`: independent choices for the same prompt (1..kMaxChoices); choice i > 0
  // samples with choice_seed(seed, i). Log-probabilities are options.logprobs (chat:
  // `logprobs` + `top_logprobs`, completions: the integer `logprobs`).
  size_t n = 1;
};

inline constexpr size_t kMaxChoices = 16;      // `n` above this is refused by name
inline constexpr int64_t kMaxCompletionLogprobs = 5;  // /v1/completions `logprobs` (OpenAI's limit)

// The seed of choice `index` of a request seeded `seed`: the seed itself for choice 0 (so
// n = 1 behaves as before), a well-mixed derivative (splitmix64) for the others, so the
// choices differ and the same request reproduces all of them.
uint64_t choice_seed(uint64_t seed, size_t index);

struct ChatRequest {
  GenerationParams gen;
  std::vector<model::ChatMessage> messages;
  ToolRequest tools;  // function calling (server/tool_calls.h)
  // Whether a message is a `tool` turn or an assistant turn with tool_calls: the model's
  // template must then have a tool format.
  bool tool_turns = false;
};

struct CompletionRequest {
  GenerationParams gen;
  std::string prompt;
  bool echo = false;
};

struct EmbeddingRequest {
  std::string model;  // empty: the default embedder
  std::vector<std::string> inputs;
  bool base64 = false;  // encoding_format "base64" (the openai client's default) or "float"
};

struct RagQueryRequest {
  GenerationParams gen;
  std::string question;
  std::string collection = "default";
  size_t top_k = 4;
  rag::SearchMode mode = rag::SearchMode::Hybrid;
  bool mode_given = false;               // false: hybrid if the collection has vectors
  std::vector<std::string> filters;      // metadata filters KEY=VALUE / KEY!=VALUE
  std::optional<double> min_score;
  std::string system;                    // replaces the default RAG system prompt if set
  bool use_cache = true;                 // consult / fill the result and answer caches
};

struct GenerationDefaults {
  size_t max_tokens = 256;
  size_t max_tokens_limit = 4096;  // larger requests are refused
  size_t priority_levels = 3;
};

// `raw_body`: see parse_response_format.
ChatRequest parse_chat_request(const nlohmann::json& body, const GenerationDefaults& d = {},
                               std::string_view raw_body = {});
CompletionRequest parse_completion_request(const nlohmann::json& body,
                                           const GenerationDefaults& d = {}, std::string_view raw_body = {});
EmbeddingRequest parse_embedding_request(const nlohmann::json& body, size_t max_inputs = 2048);
RagQueryRequest parse_rag_query(const nlohmann::json& body, const GenerationDefaults& d = {});

// A string field of a JSON object: `fallback` when absent or null; otherwise throws
// ApiError(400) naming the field and the expected type ("'action' must be a string, not
// a number").
std::string string_field(const nlohmann::json& body, const char* name, std::string fallback = "");

// Throws ApiError(400) when `sampling.logit_bias` names a token id outside a vocabulary of
// `vocab_size` tokens, or bans all of them ("logit_bias leaves no token that can be
// sampled"). Called once the model is known, before the request is submitted.
void check_logit_bias(const engine::SamplingParams& sampling, size_t vocab_size);

// Throws ApiError(400) when `options.stop_token_ids` names an id outside a vocabulary of
// `vocab_size` tokens. Called with check_logit_bias.
void check_stop_token_ids(const engine::GenerationOptions& options, size_t vocab_size);

// Structured output: OpenAI's `response_format` of a chat or completion body → the grammar
// its output is constrained to (engine/json_schema.h); nullptr for {"type": "text"} or when
// absent. `raw_body`, the body's text, is re-read with ordered keys so that properties are
// generated in the schema's order (nlohmann::json sorts keys); without it they come in
// sorted order. Throws ApiError(400) with param "response_format" for anything else, e.g.
// "'response_format.json_schema.schema': 'patternProperties' is not supported (at ...)".
std::shared_ptr<const engine::JsonSchemaGrammar> parse_response_format(const nlohmann::json& body,
                                                                       std::string_view raw_body = {});

// Compiles the JSON schema found at `path` (keys from the body's root), read from
// `raw_body` with ordered keys when given. Throws ApiError(400) naming `param`, the message
// prefixed with "'<where>': ".
std::shared_ptr<const engine::JsonSchemaGrammar> compile_schema_at(const nlohmann::json& body,
                                                                   std::initializer_list<const char*> path,
                                                                   std::string_view raw_body, bool strict,
                                                                   const std::string& where, const std::string& param);

// Reads the generation fields of any of the above (also used by /v1/batch).
GenerationParams parse_generation_params(const nlohmann::json& body, const GenerationDefaults& d);

// Standard base64 (RFC 4648, padded).
std::string base64_encode(std::string_view bytes);

}  // namespace ragd::server
