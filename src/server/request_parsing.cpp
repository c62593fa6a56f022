#include "server/request_parsing.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engine/gbnf_grammar.h"
#include "server/api_error.h"
#include "server/known_fields.h"
#include "util/error.h"
#include "util/json_limits.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// The fields each endpoint implements (server/known_fields.h refuses every other one).
constexpr std::string_view kGenerationFields[] = {
    "model",         "max_tokens",   "max_completion_tokens", "stop",        "stop_token_ids",
    "temperature",   "top_p",        "min_p",                 "top_k",       "presence_penalty",
    "frequency_penalty", "repetition_penalty", "seed",         "logit_bias",  "n",
    "priority",      "user",         "stream",                "stream_options"};
// `store` only at its no-op value (parse_chat_request); `response_format` as
// parse_response_format reads it; `grammar` as parse_grammar; the tool fields as
// server/tool_calls.h reads them.
constexpr std::string_view kChatFields[] = {"messages",    "collection",      "rag",  "logprobs", "top_logprobs",
                                            "tools",       "tool_choice",     "parallel_tool_calls",
                                            "response_format", "store",       "grammar"};
constexpr std::string_view kMessageFields[] = {"role", "content", "tool_calls", "tool_call_id"};
constexpr std::string_view kCompletionFields[] = {"prompt",   "echo",   "best_of", "response_format",
                                                  "logprobs", "grammar"};
constexpr std::string_view kResponseFormatFields[] = {"type", "json_schema"};
constexpr std::string_view kJsonSchemaFields[] = {"name", "description", "schema", "strict"};
constexpr std::string_view kEmbeddingFields[] = {"model", "input", "encoding_format", "user"};
constexpr std::string_view kRagQueryFields[] = {"question", "query",     "collection", "top_k", "sampling_top_k",
                                                "mode",     "filters",   "min_score",  "system", "cache"};
constexpr std::string_view kStreamOptionFields[] = {"include_usage"};
constexpr size_t kMaxStopTokenIds = 64;

const char* json_type(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

// The field if present and not null.
const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string get_string(const json& body, const char* name, std::string fallback = "") {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_string()) throw bad_request(fmt::format("'{}' must be a string, not {}", name, json_type(*v)), name);
  return v->get<std::string>();
}

bool get_bool(const json& body, const char* name, bool fallback) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_boolean()) throw bad_request(fmt::format("'{}' must be true or false, not {}", name, json_type(*v)), name);
  return v->get<bool>();
}

std::optional<double> get_number(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_request(fmt::format("'{}' must be a number, not {}", name, json_type(*v)), name);
  double d = v->get<double>();
  if (!std::isfinite(d)) throw bad_request(fmt::format("'{}' must be a finite number", name), name);
  return d;
}

// A non-negative integer within [lo, hi].
std::optional<int64_t> get_int(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  bool integral = v->is_number_integer() || v->is_number_unsigned() ||
                  (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>());
  if (!integral) throw bad_request(fmt::format("'{}' must be an integer, not {}", name, json_type(*v)), name);
  double d = v->get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw bad_request(fmt::format("'{}' must be between {} and {}", name, lo, hi), name);
  }
  return static_cast<int64_t>(d);
}

std::vector<std::string> get_stop(const json& body) {
  const json* v = field(body, "stop");
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const auto& s : *v) {
      if (!s.is_string()) throw bad_request("'stop' must be a string or an array of strings", "stop");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'stop' must be a string or an array of strings", "stop");
  }
  if (out.size() > 16) throw bad_request("'stop' may hold at most 16 strings", "stop");
  for (const auto& s : out) {
    if (s.empty()) throw bad_request("'stop' strings must not be empty", "stop");
  }
  return out;
}

std::vector<int32_t> get_stop_token_ids(const json& body) {
  const json* v = field(body, "stop_token_ids");
  std::vector<int32_t> out;
  if (!v) return out;
  const char* expected = "'stop_token_ids' must be an array of token ids (non-negative integers)";
  if (!v->is_array()) throw bad_request(expected, "stop_token_ids");
  for (const auto& id : *v) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      throw bad_request(expected, "stop_token_ids");
    }
    out.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  if (out.size() > kMaxStopTokenIds) {
    throw bad_request(fmt::format("'stop_token_ids' may hold at most {} ids", kMaxStopTokenIds), "stop_token_ids");
  }
  return out;
}

// OpenAI's logit_bias: {"token id": bias in [-100, 100]}.
void read_logit_bias(const json& body, std::unordered_map<int32_t, float>& out) {
  const json* bias = field(body, "logit_bias");
  if (!bias) return;
  if (!bias->is_object()) throw bad_request("'logit_bias' must be an object of token id → bias", "logit_bias");
  for (const auto& [key, value] : bias->items()) {
    int64_t id = -1;
    try {
      size_t used = 0;
      id = std::stoll(key, &used);
      if (used != key.size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      throw bad_request(fmt::format("'logit_bias' key '{}' is not a token id", key), "logit_bias");
    }
    if (!value.is_number() || std::fabs(value.get<double>()) > 100) {
      throw bad_request("'logit_bias' values must be numbers in [-100, 100]", "logit_bias");
    }
    // OpenAI: -100 bans a token in practice; make it an exact ban.
    double b = value.get<double>();
    out[static_cast<int32_t>(id)] = b <= -100 ? -std::numeric_limits<float>::infinity() : static_cast<float>(b);
  }
}

// llama-server's `grammar`: GBNF text (engine/gbnf_grammar.h) the output is constrained
// to; "" (llama-server's default) or absent means none. Only one constraint per request,
// so it cannot come with a JSON response_format; the caller checks that.
std::shared_ptr<const engine::GbnfGrammar> parse_grammar(const json& body) {
  const json* g = field(body, "grammar");
  if (!g) return nullptr;
  if (!g->is_string()) {
    throw bad_request(
        fmt::format("'grammar' must be a string of GBNF rules such as root ::= \"yes\" | \"no\", not {}",
                    json_type(*g)),
        "grammar");
  }
  if (g->get_ref<const std::string&>().empty()) return nullptr;
  try {
    return engine::GbnfGrammar::parse(g->get_ref<const std::string&>());
  } catch (const Error& e) {
    throw bad_request(fmt::format("'grammar': {}", e.what()), "grammar");
  }
}

void refuse_two_constraints(const engine::GenerationOptions& o) {
  if (o.grammar && o.json_constraint) {
    throw bad_request("'grammar' cannot be combined with a JSON 'response_format': one output constraint at a time",
                      "grammar");
  }
}

std::string message_content(const json& m, size_t index) {
  const json* c = field(m, "content");
  if (!c) return "";  // an assistant turn with only tool calls, say
  if (c->is_string()) return c->get<std::string>();
  if (c->is_array()) {
    // Content parts: text parts are concatenated; images and audio are not supported.
    std::string text;
    for (const auto& part : *c) {
      if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") ||
          !part["text"].is_string()) {
        throw bad_request(fmt::format("messages[{}].content: only text parts "
                                      "({{\"type\": \"text\", \"text\": \"...\"}}) are supported",
                                      index),
                          "messages");
      }
      text += part["text"].get<std::string>();
    }
    return text;
  }
  throw bad_request(fmt::format("messages[{}].content must be a string or an array of parts", index),
                    "messages");
}

}  // namespace

std::string string_field(const json& body, const char* name, std::string fallback) {
  return get_string(body, name, std::move(fallback));
}

void check_logit_bias(const engine::SamplingParams& sampling, size_t vocab_size) {
  size_t banned = 0;
  for (const auto& [id, bias] : sampling.logit_bias) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size) {
      throw bad_request(fmt::format("'logit_bias' key {} is not a token id of this model (vocabulary: {} tokens)",
                                    id, vocab_size),
                        "logit_bias");
    }
    if (std::isinf(bias) && bias < 0) ++banned;
  }
  // Ids are distinct map keys within the vocabulary, so `banned` counts distinct tokens.
  if (vocab_size > 0 && banned >= vocab_size) {
    throw bad_request("logit_bias leaves no token that can be sampled: it bans every token of the vocabulary",
                      "logit_bias");
  }
}

void check_stop_token_ids(const engine::GenerationOptions& options, size_t vocab_size) {
  for (int32_t id : options.stop_token_ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size) {
      throw bad_request(fmt::format("'stop_token_ids' holds {}, which is not a token id of this model "
                                    "(vocabulary: {} tokens)", id, vocab_size),
                        "stop_token_ids");
    }
  }
}

nlohmann::json parse_json_body(std::string_view body) {
  if (body.empty()) throw bad_request("the request body is empty; send a JSON object");
  json j;
  try {
    j = parse_json_bounded(body, kMaxJsonDepth);
  } catch (const JsonTooDeep& e) {
    throw bad_request(fmt::format("invalid request body: {}", e.what()));
  } catch (const json::exception& e) {
    // What was expected where ("parse error at line 1, column 2: ..."; also a number too
    // large for a double: out_of_range 406), without the library's exception id.
    std::string_view what = e.what();
    if (auto end = what.find("] "); what.starts_with("[json.exception") && end != what.npos) what.remove_prefix(end + 2);
    throw bad_request(fmt::format("invalid JSON in the request body: {}", what));
  }
  if (!j.is_object()) throw bad_request(fmt::format("the request body must be a JSON object, not {}", json_type(j)));
  return j;
}

std::shared_ptr<const engine::JsonSchemaGrammar> compile_schema_at(const json& body,
                                                                   std::initializer_list<const char*> path,
                                                                   std::string_view raw_body, bool strict,
                                                                   const std::string& where, const std::string& param) {
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(raw_body.empty() ? body.dump() : raw_body);
    for (const char* key : path) {
      nlohmann::ordered_json next = schema.at(key);
      schema = std::move(next);
    }
  } catch (const nlohmann::json::exception&) {
    // The raw text was not this body (a caller's mistake): fall back to sorted keys.
    const json* v = &body;
    for (const char* key : path) v = &v->at(key);
    schema = nlohmann::ordered_json::parse(v->dump());
  }
  try {
    return engine::JsonSchemaGrammar::compile(schema, strict);
  } catch (const Error& e) {
    throw bad_request(fmt::format("'{}': {}", where, e.what()), param);
  }
}

std::shared_ptr<const engine::JsonSchemaGrammar> parse_response_format(const json& body, std::string_view raw_body) {
  const json* rf = field(body, "response_format");
  if (!rf) return nullptr;
  if (!rf->is_object()) throw bad_request("'response_format' must be an object such as {\"type\": \"json_object\"}", "response_format");
  refuse_unknown_fields(*rf, {kResponseFormatFields}, "response_format");
  const std::string type = get_string(*rf, "type");
  if (type == "text" || type == "json_object") {
    if (field(*rf, "json_schema")) throw bad_request("'response_format.json_schema' needs type \"json_schema\"", "response_format");
    return type == "text" ? nullptr : engine::JsonSchemaGrammar::any_object();
  }
  if (type != "json_schema") {
    throw bad_request("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"", "response_format");
  }
  const json* js = field(*rf, "json_schema");
  if (!js || !js->is_object()) {
    throw bad_request("'response_format.json_schema' must be an object with 'name' and 'schema'", "response_format");
  }
  refuse_unknown_fields(*js, {kJsonSchemaFields}, "response_format.json_schema");
  get_string(*js, "name");  // type-checked only: the name labels the schema, nothing more
  get_string(*js, "description");
  const bool strict = get_bool(*js, "strict", false);
  if (!field(*js, "schema")) return engine::JsonSchemaGrammar::any_object();  // OpenAI: any JSON object
  return compile_schema_at(body, {"response_format", "json_schema", "schema"}, raw_body, strict,
                           "response_format.json_schema.schema", "response_format");
}

GenerationParams parse_generation_params(const json& body, const GenerationDefaults& d) {
  GenerationParams p;
  p.model = get_string(body, "model");
  auto& o = p.options;
  auto max_tokens = get_int(body, "max_completion_tokens", 1, static_cast<int64_t>(d.max_tokens_limit));
  if (!max_tokens) max_tokens = get_int(body, "max_tokens", 1, static_cast<int64_t>(d.max_tokens_limit));
  o.max_tokens = max_tokens ? static_cast<size_t>(*max_tokens) : d.max_tokens;
  o.stop = get_stop(body);
  o.stop_token_ids = get_stop_token_ids(body);
  auto& s = o.sampling;
  if (auto v = get_number(body, "temperature")) s.temperature = static_cast<float>(*v);
  if (auto v = get_number(body, "top_p")) s.top_p = static_cast<float>(*v);
  if (auto v = get_number(body, "min_p")) s.min_p = static_cast<float>(*v);
  if (auto v = get_int(body, "top_k", 0, 1 << 20)) s.top_k = static_cast<int32_t>(*v);
  if (auto v = get_number(body, "presence_penalty")) s.presence_penalty = static_cast<float>(*v);
  if (auto v = get_number(body, "frequency_penalty")) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = get_number(body, "repetition_penalty")) s.repeat_penalty = static_cast<float>(*v);
  if (const json* seed = field(body, "seed")) {
    if (seed->is_number_unsigned()) s.seed = seed->get<uint64_t>();
    else if (seed->is_number_integer()) s.seed = static_cast<uint64_t>(seed->get<int64_t>());
    else throw bad_request("'seed' must be an integer", "seed");
  }
  read_logit_bias(body, s.logit_bias);
  try {
    s.validate();
  } catch (const Error& e) {
    throw bad_request(e.what());
  }
  if (auto n = get_int(body, "n", 1, static_cast<int64_t>(kMaxChoices))) p.n = static_cast<size_t>(*n);
  if (auto v = get_int(body, "priority", 0, static_cast<int64_t>(d.priority_levels) - 1)) {
    p.priority = static_cast<size_t>(*v);
  }
  p.user = get_string(body, "user");
  p.stream = get_bool(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    refuse_unknown_fields(*so, {kStreamOptionFields}, "stream_options");
    p.include_usage = get_bool(*so, "include_usage", false);
  }
  return p;
}

uint64_t choice_seed(uint64_t seed, size_t index) {
  if (index == 0) return seed;
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

ChatRequest parse_chat_request(const json& body, const GenerationDefaults& d, std::string_view raw_body) {
  refuse_unknown_fields(body, {kGenerationFields, kChatFields}, "/v1/chat/completions");
  require_value(body, "store", false);
  if (field(body, "collection")) {
    // A RAG answer is one text with citations (server/rag_chat.h): no function calling; only
    // the no-op values `tools: []` and `tool_choice: "none"` are accepted.
    const json* tools = field(body, "tools");
    const json* choice = field(body, "tool_choice");
    for (auto [name, set] : {std::pair{"tools", tools && *tools != json::array()},
                             std::pair{"tool_choice", choice && *choice != "none"},
                             std::pair{"parallel_tool_calls", field(body, "parallel_tool_calls") != nullptr}}) {
      if (set) {
        throw bad_request(fmt::format("'{}' is not supported with a 'collection': RAG answers are text with citations",
                                      name),
                          name);
      }
    }
  }
  if (field(body, "rag") && !field(body, "collection")) {
    throw bad_request("'rag' (retrieval options) needs a 'collection' to retrieve from", "rag");
  }
  ChatRequest r;
  r.gen = parse_generation_params(body, d);
  // OpenAI: `logprobs: true` asks for the chosen tokens' logprobs, `top_logprobs` (0..20)
  // for that many alternatives each, and only together with `logprobs: true`.
  const bool logprobs = get_bool(body, "logprobs", false);
  const auto top = get_int(body, "top_logprobs", 0, static_cast<int64_t>(engine::kMaxTopLogprobs));
  if (top && !logprobs) throw bad_request("'top_logprobs' requires 'logprobs': true", "top_logprobs");
  if (logprobs) r.gen.options.logprobs = static_cast<int32_t>(top.value_or(0));
  if (field(body, "collection")) {
    // A RAG answer is one text with citations (server/rag_chat.h): one choice, no logprobs.
    if (r.gen.n != 1) throw bad_request("'n' > 1 is not supported with a 'collection' (RAG answers)", "n");
    if (logprobs) throw bad_request("'logprobs' is not supported with a 'collection' (RAG answers)", "logprobs");
  }
  r.gen.options.json_constraint = parse_response_format(body, raw_body);
  if (r.gen.options.json_constraint && field(body, "collection")) {
    throw bad_request("'response_format' is not supported with a 'collection': RAG answers are text with citations",
                      "response_format");
  }
  r.gen.options.grammar = parse_grammar(body);
  refuse_two_constraints(r.gen.options);
  if (r.gen.options.grammar && field(body, "collection")) {
    throw bad_request("'grammar' is not supported with a 'collection': RAG answers are text with citations", "grammar");
  }
  r.tools = parse_tool_request(body, raw_body);
  if (r.tools.active() && r.gen.options.grammar) {
    // Tool calls are markup in the text (or, for required / named, a JSON constraint).
    throw bad_request("'grammar' cannot be combined with 'tools' (unless tool_choice is \"none\")", "grammar");
  }
  if (r.tools.active()) {
    // Both would constrain (or parse) the same output; the call's own schema is the format.
    if (r.gen.options.json_constraint) {
      throw bad_request("'response_format' cannot be combined with 'tools' (unless tool_choice is \"none\")",
                        "response_format");
    }
    // Calls are cut out of the text, so per-token logprobs would not line up with it.
    if (logprobs) throw bad_request("'logprobs' is not supported together with 'tools'", "logprobs");
    r.gen.options.json_constraint = r.tools.grammar;  // required / named: one call, always
  }
  const json* messages = field(body, "messages");
  if (!messages) throw bad_request("'messages' is required: a non-empty array of {role, content}", "messages");
  if (!messages->is_array() || messages->empty()) throw bad_request("'messages' must be a non-empty array", "messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    if (!m.is_object()) throw bad_request(fmt::format("messages[{}] must be an object", i), "messages");
    refuse_unknown_fields(m, {kMessageFields}, fmt::format("messages[{}]", i));
    const json* role = field(m, "role");
    if (!role || !role->is_string() || role->get<std::string>().empty()) {
      throw bad_request(fmt::format("messages[{}].role must be a non-empty string", i), "messages");
    }
    std::string name = role->get<std::string>();
    if (name == "developer") name = "system";  // OpenAI's newer name for the system role
    model::ChatMessage message{name, message_content(m, i)};
    if (field(m, "tool_calls")) {
      if (name != "assistant") throw bad_request(fmt::format("messages[{}].tool_calls needs role \"assistant\"", i), "messages");
      message.tool_calls = parse_message_tool_calls(m, i);
      r.tool_turns = r.tool_turns || !message.tool_calls.empty();
    }
    if (const json* id = field(m, "tool_call_id")) {
      if (name != "tool") throw bad_request(fmt::format("messages[{}].tool_call_id needs role \"tool\"", i), "messages");
      if (!id->is_string()) throw bad_request(fmt::format("messages[{}].tool_call_id must be a string", i), "messages");
    }
    if (name == "tool") r.tool_turns = true;
    r.messages.push_back(std::move(message));
  }
  return r;
}

CompletionRequest parse_completion_request(const json& body, const GenerationDefaults& d, std::string_view raw_body) {
  for (const char* name : {"tools", "tool_choice", "parallel_tool_calls"}) {
    if (field(body, name)) {
      throw bad_request(fmt::format("'{}' is not supported by /v1/completions: function calling needs "
                                    "/v1/chat/completions", name),
                        name);
    }
  }
  refuse_unknown_fields(body, {kGenerationFields, kCompletionFields}, "/v1/completions");
  require_value(body, "best_of", 1);
  CompletionRequest r;
  r.gen = parse_generation_params(body, d);
  // The legacy API: `logprobs` is the number of alternatives (0..5) per token, null for none.
  if (auto k = get_int(body, "logprobs", 0, kMaxCompletionLogprobs)) r.gen.options.logprobs = static_cast<int32_t>(*k);
  r.gen.options.json_constraint = parse_response_format(body, raw_body);
  r.gen.options.grammar = parse_grammar(body);
  refuse_two_constraints(r.gen.options);
  const json* prompt = field(body, "prompt");
  if (!prompt) throw bad_request("'prompt' is required", "prompt");
  if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    r.prompt = (*prompt)[0].get<std::string>();
  } else {
    throw bad_request("'prompt' must be a string (one prompt per request)", "prompt");
  }
  r.echo = get_bool(body, "echo", false);
  return r;
}

EmbeddingRequest parse_embedding_request(const json& body, size_t max_inputs) {
  if (field(body, "dimensions")) throw bad_request("'dimensions' is not supported: the model's vectors have a fixed size", "dimensions");
  refuse_unknown_fields(body, {kEmbeddingFields}, "/v1/embeddings");
  EmbeddingRequest r;
  r.model = get_string(body, "model");
  const json* input = field(body, "input");
  if (!input) throw bad_request("'input' is required: a string or an array of strings", "input");
  if (input->is_string()) {
    r.inputs.push_back(input->get<std::string>());
  } else if (input->is_array()) {
    for (const auto& s : *input) {
      if (!s.is_string()) {
        throw bad_request("'input' must be a string or an array of strings (token arrays are not supported)", "input");
      }
      r.inputs.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'input' must be a string or an array of strings", "input");
  }
  if (r.inputs.empty()) throw bad_request("'input' must not be empty", "input");
  if (r.inputs.size() > max_inputs) {
    throw bad_request(fmt::format("'input' may hold at most {} strings", max_inputs), "input");
  }
  std::string format = get_string(body, "encoding_format", "float");
  if (format == "base64") {
    r.base64 = true;
  } else if (format != "float") {
    throw bad_request("'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
  }
  return r;
}

RagQueryRequest parse_rag_query(const json& body, const GenerationDefaults& d) {
  refuse_unknown_fields(body, {kGenerationFields, kRagQueryFields}, "/v1/rag/query");
  RagQueryRequest r;
  r.gen = parse_generation_params(body, d);
  if (r.gen.n != 1) throw bad_request("'n' > 1 is not supported by /v1/rag/query (one answer with citations)", "n");
  r.question = get_string(body, "question");
  if (r.question.empty()) r.question = get_string(body, "query");
  if (r.question.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw bad_request("'question' is required: a non-empty string", "question");
  }
  r.collection = get_string(body, "collection", r.collection);
  if (auto k = get_int(body, "top_k", 1, 50)) r.top_k = static_cast<size_t>(*k);
  // top_k here counts sources; the sampler's top_k is available as sampling_top_k.
  r.gen.options.sampling.top_k = engine::SamplingParams{}.top_k;
  if (auto k = get_int(body, "sampling_top_k", 0, 1 << 20)) r.gen.options.sampling.top_k = static_cast<int32_t>(*k);
  if (const json* mode = field(body, "mode")) {
    if (!mode->is_string()) throw bad_request("'mode' must be \"bm25\", \"dense\" or \"hybrid\"", "mode");
    try {
      r.mode = rag::parse_search_mode(mode->get<std::string>());
    } catch (const Error&) {
      throw bad_request("'mode' must be \"bm25\", \"dense\" or \"hybrid\"", "mode");
    }
    r.mode_given = true;
  }
  if (const json* f = field(body, "filters")) {
    if (f->is_string()) {
      r.filters.push_back(f->get<std::string>());
    } else if (f->is_array()) {
      for (const auto& s : *f) {
        if (!s.is_string()) throw bad_request("'filters' must be an array of \"KEY=VALUE\" strings", "filters");
        r.filters.push_back(s.get<std::string>());
      }
    } else if (f->is_object()) {
      for (const auto& [k, v] : f->items()) {
        r.filters.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
      }
    } else {
      throw bad_request("'filters' must be an array of \"KEY=VALUE\" strings or an object", "filters");
    }
  }
  r.min_score = get_number(body, "min_score");
  r.system = get_string(body, "system");
  r.use_cache = get_bool(body, "cache", true);
  return r;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                 static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace ragd::server
