// Ollama API request bodies (/api/chat, /api/generate, /api/embed, /api/embeddings) →
// validated requests, with the rules of request_parsing.h: every field ragd does not
// implement is refused with ApiError(400) naming it (server/known_fields.h); fields at
// their no-op value (`tools: []`, `images: []`, `think: false`) are accepted.
//
// `logprobs: true` and `top_logprobs: K` (0..20, only with logprobs) set
// gen.options.logprobs to K, as the OpenAI chat fields do (request_parsing.h).
//
// `options` map onto the OpenAI-side generation fields and are validated by the same code
// (parse_generation_params): temperature, top_p, top_k, min_p, seed, stop,
// presence_penalty, frequency_penalty, repeat_penalty (→ repetition_penalty), num_predict
// (→ max_tokens; -1 and -2, "until done", mean the server's limit). num_ctx caps the
// request's window: prompt + generated tokens ≤ num_ctx (the server's context still
// applies when it is smaller). Unlike OpenAI, Ollama streams by default.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "model/chat_template.h"
#include "server/request_parsing.h"

namespace ragd::server {

// Chat and generate: a prompt for the model, or (no messages / empty prompt) a request
// only to load or unload it, as Ollama clients send to preload a model.
struct OllamaGenerateRequest {
  GenerationParams gen;                      // gen.model already without ":latest"
  std::vector<model::ChatMessage> messages;  // rendered with the chat template
  std::string raw_prompt;                    // /api/generate with raw: tokenized as is
  bool raw = false;
  bool load_only = false;
  std::optional<size_t> num_ctx;
  std::optional<double> keep_alive_seconds;  // < 0: forever; 0: unload when done
};

struct OllamaEmbedRequest {
  std::string model;
  std::vector<std::string> inputs;
  bool truncate = true;  // false: an input longer than the model's window is a 400
  std::optional<double> keep_alive_seconds;
};

// `format` ("json" or a JSON schema) constrains the output (request_parsing.h:
// parse_response_format; `raw_body` keeps the schema's property order the same way).
OllamaGenerateRequest parse_ollama_chat(const nlohmann::json& body, const GenerationDefaults& d,
                                        std::string_view raw_body = {});
OllamaGenerateRequest parse_ollama_generate(const nlohmann::json& body, const GenerationDefaults& d,
                                            std::string_view raw_body = {});
// `legacy`: /api/embeddings ({"prompt": "..."}) rather than /api/embed ({"input": ...}).
OllamaEmbedRequest parse_ollama_embed(const nlohmann::json& body, bool legacy);

// Ollama's keep_alive: a number of seconds or a Go duration string ("5m", "1h30m",
// "300ms", "-1", "0"). Throws ApiError(400) naming keep_alive for anything else.
double parse_keep_alive(const nlohmann::json& value);

// A model name as Ollama clients send it: "name:latest" is "name" (ragd names have no tags).
std::string ollama_model_name(std::string name);

}  // namespace ragd::server
