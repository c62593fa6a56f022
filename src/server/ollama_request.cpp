#include "server/ollama_request.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

#include "engine/sampler.h"
#include "server/api_error.h"
#include "server/known_fields.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// The no-op values some fields are accepted with, and the fields each endpoint reads.
constexpr std::string_view kChatFields[] = {"model", "messages", "stream", "options",  "keep_alive",
                                            "tools", "format",   "think",  "logprobs", "top_logprobs"};
constexpr std::string_view kGenerateFields[] = {"model",  "prompt", "system", "raw",   "stream",   "options",     "keep_alive",
                                                "suffix", "images", "format", "think", "logprobs", "top_logprobs"};
constexpr std::string_view kMessageFields[] = {"role", "content", "images"};
constexpr std::string_view kEmbedFields[] = {"model", "input", "truncate", "options", "keep_alive"};
constexpr std::string_view kEmbeddingsFields[] = {"model", "prompt", "options", "keep_alive"};
constexpr std::string_view kOptionFields[] = {"num_ctx",          "temperature",       "top_p",         "top_k",
                                              "min_p",            "seed",              "num_predict",   "stop",
                                              "repeat_penalty",   "presence_penalty",  "frequency_penalty"};

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::string text_field(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return "";
  if (!v->is_string()) throw bad_request(fmt::format("'{}' must be a string", name), name);
  return v->get<std::string>();
}

void require_no_op_values(const json& body) {
  require_value(body, "tools", json::array());
  require_value(body, "images", json::array());
  require_value(body, "think", false);
  require_value(body, "suffix", "");
}

// Ollama's options as the OpenAI-side fields parse_generation_params validates, so both
// APIs share one set of rules and defaults.
json options_as_openai_fields(const json& body, const GenerationDefaults& d, std::optional<size_t>& num_ctx) {
  json out = json::object();
  const json* o = field(body, "options");
  if (o) {
    if (!o->is_object()) throw bad_request("'options' must be an object", "options");
    refuse_unknown_fields(*o, {kOptionFields}, "options");
    for (const char* same : {"temperature", "top_p", "top_k", "min_p", "seed", "stop", "presence_penalty",
                             "frequency_penalty"}) {
      if (const json* v = field(*o, same)) out[same] = *v;
    }
    if (const json* v = field(*o, "repeat_penalty")) {
      if (!v->is_number()) throw bad_request("'repeat_penalty' must be a number", "repeat_penalty");
      out["repetition_penalty"] = *v;
    }
    if (const json* v = field(*o, "num_predict")) {
      if (!v->is_number_integer()) throw bad_request("'num_predict' must be an integer", "num_predict");
      int64_t n = v->get<int64_t>();
      if (n == 0 || n < -2) throw bad_request("'num_predict' must be positive, or -1 / -2 (until done)", "num_predict");
      out["max_tokens"] = n < 0 ? static_cast<int64_t>(d.max_tokens_limit) : n;
      if (n > static_cast<int64_t>(d.max_tokens_limit)) {
        throw bad_request(fmt::format("'num_predict' may be at most {} on this server", d.max_tokens_limit),
                          "num_predict");
      }
    }
    if (const json* v = field(*o, "num_ctx")) {
      if (!v->is_number_integer() || v->get<int64_t>() < 1) {
        throw bad_request("'num_ctx' must be a positive integer", "num_ctx");
      }
      num_ctx = v->get<size_t>();
    }
  }
  out["model"] = ollama_model_name(text_field(body, "model"));
  if (const json* s = field(body, "stream")) out["stream"] = *s;
  return out;
}

// Ollama's `format`: "" (text), "json" (any JSON object) or a JSON schema (structured output).
std::shared_ptr<const engine::JsonSchemaGrammar> parse_format(const json& body, std::string_view raw_body) {
  const json* f = field(body, "format");
  if (!f || (f->is_string() && f->get<std::string>().empty())) return nullptr;
  if (f->is_string() && f->get<std::string>() == "json") return engine::JsonSchemaGrammar::any_object();
  if (!f->is_object()) throw bad_request("'format' must be \"json\" or a JSON schema object", "format");
  return compile_schema_at(body, {"format"}, raw_body, false, "format", "format");
}

// Ollama 0.12.11+: `logprobs: true` reports each generated token's logprob, `top_logprobs`
// (0..20, as Ollama checks) that many alternatives each; as on the OpenAI side, only with
// `logprobs: true` (a K that would be dropped is refused rather than ignored). -1: none.
int32_t parse_logprobs(const json& body) {
  bool logprobs = false;
  if (const json* v = field(body, "logprobs")) {
    if (!v->is_boolean()) throw bad_request("'logprobs' must be true or false", "logprobs");
    logprobs = v->get<bool>();
  }
  int64_t top = 0;
  if (const json* v = field(body, "top_logprobs")) {
    const int64_t hi = static_cast<int64_t>(engine::kMaxTopLogprobs);
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > hi) {
      throw bad_request(fmt::format("'top_logprobs' must be an integer between 0 and {}", hi), "top_logprobs");
    }
    top = v->get<int64_t>();
    if (!logprobs) throw bad_request("'top_logprobs' requires 'logprobs': true", "top_logprobs");
  }
  return logprobs ? static_cast<int32_t>(top) : -1;
}

OllamaGenerateRequest common_fields(const json& body, const GenerationDefaults& d, std::string_view raw_body) {
  require_no_op_values(body);
  OllamaGenerateRequest r;
  json openai = options_as_openai_fields(body, d, r.num_ctx);
  r.gen = parse_generation_params(openai, d);
  r.gen.options.json_constraint = parse_format(body, raw_body);
  r.gen.options.logprobs = parse_logprobs(body);
  if (!field(body, "stream")) r.gen.stream = true;
  if (const json* k = field(body, "keep_alive")) r.keep_alive_seconds = parse_keep_alive(*k);
  return r;
}

// "1h30m", "1.5h", "300ms", "-1m", "0".
std::optional<double> go_duration(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative || (!s.empty() && s.front() == '+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  if (s == "0") return 0.0;
  double total = 0;
  while (!s.empty()) {
    double value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end == s.data()) return std::nullopt;
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    size_t unit_len = 0;
    while (unit_len < s.size() && !(std::isdigit(static_cast<unsigned char>(s[unit_len])) || s[unit_len] == '.')) {
      ++unit_len;
    }
    std::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit_len);
    double scale = unit == "h" ? 3600 : unit == "m" ? 60 : unit == "s" ? 1 : unit == "ms" ? 1e-3
                 : unit == "us" || unit == "\u00b5s" ? 1e-6 : unit == "ns" ? 1e-9 : -1;
    if (scale < 0) return std::nullopt;  // no unit, or an unknown one
    total += value * scale;
  }
  return negative ? -total : total;
}

}  // namespace

std::string ollama_model_name(std::string name) {
  constexpr std::string_view kLatest = ":latest";
  if (name.ends_with(kLatest)) name.resize(name.size() - kLatest.size());
  return name;
}

double parse_keep_alive(const json& value) {
  const char* expected = "'keep_alive' must be a number of seconds or a duration such as \"5m\", \"1h\", \"-1\" or \"0\"";
  double seconds = 0;
  if (value.is_number()) {
    seconds = value.get<double>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) {
      auto d = go_duration(text);
      if (!d) throw bad_request(expected, "keep_alive");
      seconds = *d;
    }
  } else {
    throw bad_request(expected, "keep_alive");
  }
  if (!std::isfinite(seconds)) throw bad_request(expected, "keep_alive");
  return seconds;
}

OllamaGenerateRequest parse_ollama_chat(const json& body, const GenerationDefaults& d, std::string_view raw_body) {
  refuse_unknown_fields(body, {kChatFields}, "/api/chat");
  OllamaGenerateRequest r = common_fields(body, d, raw_body);
  const json* messages = field(body, "messages");
  if (messages && !messages->is_array()) throw bad_request("'messages' must be an array of {role, content}", "messages");
  r.load_only = !messages || messages->empty();
  for (size_t i = 0; messages && i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    if (!m.is_object()) throw bad_request(fmt::format("messages[{}] must be an object", i), "messages");
    refuse_unknown_fields(m, {kMessageFields}, fmt::format("messages[{}]", i));
    require_value(m, "images", json::array());
    std::string role = text_field(m, "role");
    if (role.empty()) throw bad_request(fmt::format("messages[{}].role must be a non-empty string", i), "messages");
    r.messages.push_back({role, text_field(m, "content")});
  }
  return r;
}

OllamaGenerateRequest parse_ollama_generate(const json& body, const GenerationDefaults& d, std::string_view raw_body) {
  refuse_unknown_fields(body, {kGenerateFields}, "/api/generate");
  OllamaGenerateRequest r = common_fields(body, d, raw_body);
  const json* raw = field(body, "raw");
  if (raw && !raw->is_boolean()) throw bad_request("'raw' must be true or false", "raw");
  r.raw = raw && raw->get<bool>();
  std::string prompt = text_field(body, "prompt");
  std::string system = text_field(body, "system");
  r.load_only = prompt.empty();
  if (r.raw) {
    if (!system.empty()) throw bad_request("'system' has no effect with raw: true (no template is applied)", "system");
    r.raw_prompt = std::move(prompt);
    return r;
  }
  if (!system.empty()) r.messages.push_back({"system", std::move(system)});
  r.messages.push_back({"user", std::move(prompt)});
  return r;
}

OllamaEmbedRequest parse_ollama_embed(const json& body, bool legacy) {
  const char* where = legacy ? "/api/embeddings" : "/api/embed";
  refuse_unknown_fields(body, {legacy ? FieldList(kEmbeddingsFields) : FieldList(kEmbedFields)}, where);
  OllamaEmbedRequest r;
  r.model = ollama_model_name(text_field(body, "model"));
  if (const json* o = field(body, "options")) {
    if (!o->is_object()) throw bad_request("'options' must be an object", "options");
    refuse_unknown_fields(*o, {}, "'options' of an embedding request");
  }
  if (const json* k = field(body, "keep_alive")) r.keep_alive_seconds = parse_keep_alive(*k);
  const char* name = legacy ? "prompt" : "input";
  const json* input = field(body, name);
  if (!input) throw bad_request(fmt::format("'{}' is required", name), name);
  if (input->is_string()) {
    r.inputs.push_back(input->get<std::string>());
  } else if (!legacy && input->is_array()) {
    for (const auto& s : *input) {
      if (!s.is_string()) throw bad_request("'input' must be a string or an array of strings", "input");
      r.inputs.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request(fmt::format("'{}' must be a string{}", name, legacy ? "" : " or an array of strings"), name);
  }
  if (r.inputs.empty()) throw bad_request("'input' must not be empty", "input");
  if (const json* t = field(body, "truncate")) {
    if (!t->is_boolean()) throw bad_request("'truncate' must be true or false", "truncate");
    r.truncate = t->get<bool>();
  }
  return r;
}

}  // namespace ragd::server
