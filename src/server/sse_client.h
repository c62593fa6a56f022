// SSE chat client: one streamed OpenAI-style chat completion, timed as a client sees it.
//
// The request is POST <path> with a JSON body that has "stream": true. The response is
// read as Server-Sent Events: every "data: <payload>" line is one event; "data: [DONE]"
// ends the stream. A payload is a chat.completion.chunk: a non-empty
// choices[0].delta.content is one content chunk (a token, for ragd's server), "usage"
// (if the server sends it) gives the authoritative token counts, and an "error" object
// ends the request as failed.
//
// Outcome: ok only for HTTP 200 whose stream ended with [DONE] and carried no error.
// Everything else (connection refused, non-200, a stream cut before [DONE], unparsable
// JSON) is a failure with a reason, never an exception.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/sse_parser.h"

namespace httplib {
class Client;
}

namespace ragd::server {

// The SSE framing (moved to util so that the engine's upstream client shares it).
using SseParser = ragd::SseParser;

struct StreamResult {
  bool ok = false;
  int status = 0;        // HTTP status; 0 when no response arrived
  std::string error;     // why not ok
  bool done = false;     // saw data: [DONE]
  double ttft_seconds = -1;          // request start → first content chunk (-1: none)
  std::vector<double> itl_seconds;   // between consecutive content chunks
  double total_seconds = 0;
  size_t content_chunks = 0;
  std::optional<size_t> completion_tokens;  // from "usage", when sent
  std::string text;      // concatenated content

  // Tokens generated: usage when sent, else the number of content chunks.
  size_t tokens() const { return completion_tokens.value_or(content_chunks); }
};

class SseChatClient {
 public:
  // base_url: "http://host:port" (a path part is not allowed; give the path to stream()).
  // Throws ragd::Error for a malformed URL.
  explicit SseChatClient(const std::string& base_url,
                         std::chrono::seconds read_timeout = std::chrono::seconds(300));
  ~SseChatClient();
  SseChatClient(const SseChatClient&) = delete;
  SseChatClient& operator=(const SseChatClient&) = delete;

  // Sends the body (stream is forced to true) and reads the stream to its end.
  StreamResult stream(const std::string& path, nlohmann::json body,
                      const std::string& api_key = "");

 private:
  std::unique_ptr<httplib::Client> client_;
};

// The body of a streamed chat request with one user message.
nlohmann::json chat_request(const std::string& model, const std::string& prompt, size_t max_tokens);

}  // namespace ragd::server
