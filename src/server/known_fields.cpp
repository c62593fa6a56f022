#include "server/known_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "server/api_error.h"

namespace ragd::server {
namespace {

// Fields of the OpenAI, llama-server and Ollama request bodies that ragd does not
// implement: refused as "not supported yet" rather than as unknown (they are not typos).
constexpr std::string_view kUnimplemented[] = {
    // OpenAI chat / completions
    "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "response_format", "logprobs",
    "top_logprobs", "audio", "modalities", "prediction", "reasoning_effort", "service_tier", "web_search_options",
    "metadata", "store", "suffix", "best_of", "verbosity",
    // llama-server (`grammar` is implemented by /v1/chat/completions and /v1/completions)
    "grammar", "json_schema", "n_probs", "typical_p",
    // Ollama requests and options
    "format", "images", "think", "template", "context", "raw", "truncate", "dimensions", "tfs_z", "mirostat",
    "mirostat_eta", "mirostat_tau", "repeat_last_n", "penalize_newline", "num_keep", "num_thread", "num_gpu",
    "num_batch", "main_gpu", "use_mmap", "use_mlock", "numa", "low_vram",
    // message fields
    "name", "tool_calls", "tool_call_id", "tool_name", "thinking", "refusal"};

bool listed(FieldList list, std::string_view name) { return std::ranges::find(list, name) != list.end(); }

}  // namespace

void refuse_field(std::string_view name, std::string_view detail) {
  std::string message = fmt::format("'{}' is not supported by ragd yet", name);
  if (!detail.empty()) message += fmt::format(" ({})", detail);
  throw bad_request(message, std::string(name));
}

void refuse_unknown_fields(const nlohmann::json& body, std::initializer_list<FieldList> lists,
                           std::string_view where) {
  for (const auto& [key, value] : body.items()) {
    if (value.is_null()) continue;
    if (std::ranges::any_of(lists, [&](FieldList l) { return listed(l, key); })) continue;
    if (listed(kUnimplemented, key)) refuse_field(key);
    std::string accepted;
    for (FieldList l : lists) {
      for (std::string_view f : l) accepted += (accepted.empty() ? "" : ", ") + std::string(f);
    }
    if (accepted.empty()) throw bad_request(fmt::format("unknown field '{}' ({} takes no fields)", key, where), key);
    throw bad_request(fmt::format("unknown field '{}' ({} accepts: {})", key, where, accepted), key);
  }
}

void require_value(const nlohmann::json& body, std::string_view name, const nlohmann::json& accepted) {
  auto it = body.find(std::string(name));
  if (it == body.end() || it->is_null() || *it == accepted) return;
  refuse_field(name, fmt::format("only {} is accepted", accepted.dump()));
}

}  // namespace ragd::server
