// Streaming generations to the client, for any API: the chunk objects come from a
// StreamShape (one generation: Ollama chat / generate) or a ChoiceStreamShape (OpenAI chat /
// completions: n choices, per-token logprobs; the one pump both use) and the framing from a
// StreamFormat — Server-Sent Events ending in `data: [DONE]` (OpenAI), or newline-delimited
// JSON (Ollama, application/x-ndjson).
//
// A client that goes away cancels the request (the scheduler frees it at its next step);
// the summary and metrics are recorded either way. A generation that fails mid-stream ends
// with the shape's error object. While a request waits, SSE sends keep-alive comments;
// NDJSON has no comment syntax, so it only watches the connection.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/generation.h"

namespace ragd::server {

enum class StreamFormat { Sse, Ndjson };

struct StreamShape {
  std::function<nlohmann::json()> first;                     // may be empty or return null: no first chunk
  std::function<nlohmann::json(const std::string&)> delta;   // one text piece
  std::function<nlohmann::json(const engine::GenerationSummary&)> final;  // after the last piece
  std::function<nlohmann::json(const engine::GenerationSummary&)> usage;  // optional, after final
  std::function<nlohmann::json(const ApiError&)> error;      // optional; default: e.body()
  std::function<void(Generation&)> finished;                 // optional; once the response ended
};

void stream_generation(httplib::Response& res, ServerContext& ctx, std::shared_ptr<Generation> g,
                       StreamShape shape, StreamFormat format);

// Several choices of one request (OpenAI `n`) in one stream, and per-token logprobs: each
// choice's first chunk, then its pieces as they come (choices interleaved, each chunk
// naming its index), each choice's final chunk as soon as it finishes, then one usage
// chunk over all of them. `logprobs` holds the logprobs that arrived with a piece (empty
// unless the request asked for them); `rest`, those of tokens whose text never came (held
// back by a stop string). A choice that fails ends the whole stream with the error object;
// a client that goes away cancels every choice. `delta` and `final` may return one chunk, an
// array of chunks (written in order; empty: none) or null (nothing), so a shape can hold text
// back and release it later (tool calls: server/tool_calls.h).
struct ChoiceStreamShape {
  std::function<nlohmann::json(size_t index)> first;  // may be empty or return null
  std::function<nlohmann::json(size_t index, const std::string& text,
                               const std::vector<engine::TokenLogprobs>& logprobs)>
      delta;
  std::function<nlohmann::json(size_t index, const engine::GenerationSummary&,
                               const std::vector<engine::TokenLogprobs>& rest)>
      final;
  std::function<nlohmann::json(const std::vector<engine::GenerationSummary>&)> usage;  // optional
  std::function<nlohmann::json(const ApiError&)> error;  // optional; default: e.body()
  std::function<void(std::vector<std::shared_ptr<Generation>>&)> finished;  // optional
};

void stream_choices(httplib::Response& res, ServerContext& ctx, std::vector<std::shared_ptr<Generation>> choices,
                    ChoiceStreamShape shape, StreamFormat format);

}  // namespace ragd::server
