// Streaming one generation to the client, for any API: the chunk objects come from a
// StreamShape (OpenAI chat / completions, Ollama chat / generate) and the framing from a
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

}  // namespace ragd::server
