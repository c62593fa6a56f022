// UpstreamEndpoint: where an upstream model is served — one OpenAI-compatible server (vLLM,
// llama-server, another ragd) named by its API base URL, e.g. `http://10.0.0.5:8000/v1`.
//
// Syntax (ragd serve --model NAME=URL, and the same strings under models.llm in a config
// file): URL is `http://HOST[:PORT][/PATH]` or `https://…`; requests go to
// PATH/chat/completions, PATH/completions and PATH/models. An optional `#ID` suffix names the
// model on the upstream when it differs from NAME: `fast=http://gpu1:8000/v1#Qwen/Qwen2.5-7B`.
// Without it the upstream is asked for NAME.
#pragma once

#include <string>
#include <string_view>

namespace ragd::engine {

struct UpstreamEndpoint {
  std::string url;        // as given, without the #ID part: for logs, metrics and status
  std::string origin;     // "http://host:port": what the HTTP client connects to
  std::string base_path;  // "/v1" (no trailing slash; "" for a URL without a path)
  std::string model_id;   // the model's name on the upstream; empty: the registered name
};

// Whether a --model value names an upstream server rather than a file or installed model.
bool is_upstream_url(std::string_view value);

// Parses `URL[#ID]`. Throws ragd::Error naming the value and the expected form for anything
// else (another scheme, no host, a port that is not 1..65535, a query string, an empty #ID).
UpstreamEndpoint parse_upstream_endpoint(const std::string& value);

}  // namespace ragd::engine
