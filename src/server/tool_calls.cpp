#include "server/tool_calls.h"

#include <fmt/format.h>

#include <algorithm>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/known_fields.h"
#include "util/error.h"
#include "util/json_limits.h"

namespace ragd::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kToolFields[] = {"type", "function"};
constexpr std::string_view kFunctionFields[] = {"name", "description", "parameters", "strict"};
constexpr std::string_view kChoiceFields[] = {"type", "function"};
constexpr std::string_view kChoiceFunctionFields[] = {"name"};
constexpr std::string_view kCallFields[] = {"id", "type", "function"};
constexpr std::string_view kCallFunctionFields[] = {"name", "arguments"};
constexpr size_t kMaxTools = 128;
constexpr size_t kMaxNameLength = 64;  // OpenAI's limit
constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

// JSON text from a request's string or from the model: parsed with the key order kept, and
// refused (nullopt) when invalid or nested deeper than kMaxJsonDepth (python_json and
// dump() recurse per level).
std::optional<ordered_json> parse_bounded(std::string_view text) {
  if (json_nesting_depth(text, kMaxJsonDepth + 1) > kMaxJsonDepth) return std::nullopt;
  try {
    return ordered_json::parse(text);
  } catch (const ordered_json::exception&) {
    return std::nullopt;
  }
}

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// OpenAI's function names: a-z, A-Z, 0-9, underscores and dashes, at most 64.
bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameLength && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// The body's `tools` with the request's key order (nlohmann::json sorts keys); from the
// sorted body when the raw text is absent or is not this body.
ordered_json ordered_tools(const json& body, std::string_view raw_body) {
  if (!raw_body.empty()) {
    try {
      ordered_json all = ordered_json::parse(raw_body);
      if (all.is_object() && all.contains("tools") && all["tools"].is_array() &&
          all["tools"].size() == body["tools"].size()) {
        return all["tools"];
      }
    } catch (const ordered_json::exception&) {
    }
  }
  return ordered_json::parse(body["tools"].dump());
}

// The schema of one call of `name`: {"name": name, "arguments": <parameters>}, name first so
// the model commits to the function before writing its arguments.
ordered_json call_schema(const std::string& name, const ordered_json& function) {
  ordered_json params;
  if (auto it = function.find("parameters"); it != function.end() && !it->is_null()) {
    params = *it;
  } else {
    // No parameters: the function takes none, so the arguments are {}.
    params = {{"type", "object"}, {"properties", ordered_json::object()}, {"additionalProperties", false}};
  }
  ordered_json schema = {{"type", "object"}};
  schema["properties"] = {{"name", {{"const", name}}}, {"arguments", std::move(params)}};
  schema["required"] = {"name", "arguments"};
  return schema;
}

void read_tools(const json& tools, const ordered_json& ordered, ToolRequest& r) {
  if (!tools.is_array()) {
    throw bad_request("'tools' must be an array of {\"type\": \"function\", \"function\": {...}}", "tools");
  }
  if (tools.size() > kMaxTools) throw bad_request(fmt::format("'tools' may hold at most {} functions", kMaxTools), "tools");
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    const std::string where = fmt::format("tools[{}]", i);
    if (!t.is_object()) throw bad_request(where + " must be an object {\"type\": \"function\", \"function\": {...}}", "tools");
    refuse_unknown_fields(t, {kToolFields}, where);
    const json* type = field(t, "type");
    if (!type || *type != "function") throw bad_request(where + ".type must be \"function\"", "tools");
    const json* fn = field(t, "function");
    if (!fn || !fn->is_object()) throw bad_request(where + ".function must be an object with a 'name'", "tools");
    refuse_unknown_fields(*fn, {kFunctionFields}, where + ".function");
    const json* name = field(*fn, "name");
    if (!name || !name->is_string() || !valid_name(name->get<std::string>())) {
      throw bad_request(where + ".function.name must be a string of 1 to 64 letters, digits, '_' or '-'", "tools");
    }
    if (const json* d = field(*fn, "description"); d && !d->is_string()) {
      throw bad_request(where + ".function.description must be a string", "tools");
    }
    if (const json* p = field(*fn, "parameters"); p && !p->is_object()) {
      throw bad_request(where + ".function.parameters must be a JSON schema object", "tools");
    }
    if (const json* s = field(*fn, "strict"); s && !s->is_boolean()) {
      throw bad_request(where + ".function.strict must be true or false", "tools");
    }
    std::string n = name->get<std::string>();
    if (std::ranges::find(r.tools, n, &ToolSpec::name) != r.tools.end()) {
      throw bad_request(fmt::format("'tools' declares the function '{}' twice", n), "tools");
    }
    r.tools.push_back({std::move(n), python_json(ordered[i])});
  }
}

void read_choice(const json& body, ToolRequest& r) {
  const json* c = field(body, "tool_choice");
  if (!c) {
    r.choice = r.tools.empty() ? ToolChoice::None : ToolChoice::Auto;
    return;
  }
  const char* shape = "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                      "{\"type\": \"function\", \"function\": {\"name\": ...}}";
  if (c->is_string()) {
    const std::string s = c->get<std::string>();
    if (s == "none") r.choice = ToolChoice::None;
    else if (s == "auto") r.choice = ToolChoice::Auto;
    else if (s == "required") r.choice = ToolChoice::Required;
    else throw bad_request(shape, "tool_choice");
  } else if (c->is_object()) {
    refuse_unknown_fields(*c, {kChoiceFields}, "tool_choice");
    const json* type = field(*c, "type");
    const json* fn = field(*c, "function");
    if (!type || *type != "function" || !fn || !fn->is_object()) throw bad_request(shape, "tool_choice");
    refuse_unknown_fields(*fn, {kChoiceFunctionFields}, "tool_choice.function");
    const json* name = field(*fn, "name");
    if (!name || !name->is_string()) throw bad_request("'tool_choice.function.name' must be a string", "tool_choice");
    r.choice = ToolChoice::Named;
    r.named = name->get<std::string>();
    if (std::ranges::find(r.tools, r.named, &ToolSpec::name) == r.tools.end()) {
      throw bad_request(fmt::format("'tool_choice' names the function '{}', which 'tools' does not declare", r.named),
                        "tool_choice");
    }
  } else {
    throw bad_request(shape, "tool_choice");
  }
  if (r.choice != ToolChoice::None && r.tools.empty()) {
    throw bad_request("'tool_choice' other than \"none\" needs a non-empty 'tools'", "tool_choice");
  }
}

// Required / Named: one call of an allowed function. Each function's parameters are compiled
// alone first so that an unsupported keyword is reported at its own place.
void build_grammar(const ordered_json& ordered, ToolRequest& r) {
  ordered_json alternatives = ordered_json::array();
  for (size_t i = 0; i < r.tools.size(); ++i) {
    const ordered_json& fn = ordered[i]["function"];
    if (r.choice == ToolChoice::Named && r.tools[i].name != r.named) continue;
    ordered_json schema = call_schema(r.tools[i].name, fn);
    try {
      engine::JsonSchemaGrammar::compile(schema["properties"]["arguments"]);
    } catch (const Error& e) {
      throw bad_request(fmt::format("'tools[{}].function.parameters': {}", i, e.what()), "tools");
    }
    alternatives.push_back(std::move(schema));
  }
  try {
    r.grammar = engine::JsonSchemaGrammar::compile(alternatives.size() == 1 ? alternatives[0]
                                                                            : ordered_json{{"anyOf", alternatives}});
  } catch (const Error& e) {
    throw bad_request(fmt::format("'tools': {}", e.what()), "tools");
  }
}

void append_python_json(const ordered_json& v, std::string& out) {
  if (v.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : v.items()) {
      if (!first) out += ", ";
      first = false;
      out += ordered_json(key).dump();
      out += ": ";
      append_python_json(value, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ", ";
      append_python_json(v[i], out);
    }
    out += ']';
  } else {
    out += v.dump();
  }
}

}  // namespace

std::string python_json(const ordered_json& value) {
  std::string out;
  append_python_json(value, out);
  return out;
}

std::vector<std::string> ToolRequest::prompt_tools() const {
  std::vector<std::string> out;
  if (choice == ToolChoice::None) return out;
  for (const auto& t : tools) out.push_back(t.rendered);
  return out;
}

std::vector<std::string> ToolRequest::allowed_names() const {
  if (choice == ToolChoice::Named) return {named};
  std::vector<std::string> out;
  for (const auto& t : tools) out.push_back(t.name);
  return out;
}

ToolRequest parse_tool_request(const json& body, std::string_view raw_body) {
  ToolRequest r;
  ordered_json ordered = ordered_json::array();
  if (const json* tools = field(body, "tools")) {
    if (tools->is_array()) ordered = ordered_tools(body, raw_body);
    read_tools(*tools, ordered, r);
  }
  read_choice(body, r);
  if (const json* p = field(body, "parallel_tool_calls")) {
    if (!p->is_boolean()) throw bad_request("'parallel_tool_calls' must be true or false", "parallel_tool_calls");
    r.parallel = p->get<bool>();
  }
  if (r.constrained()) build_grammar(ordered, r);
  return r;
}

std::vector<model::ChatToolCall> parse_message_tool_calls(const json& m, size_t index) {
  std::vector<model::ChatToolCall> out;
  const json* calls = field(m, "tool_calls");
  if (!calls) return out;
  const std::string where = fmt::format("messages[{}].tool_calls", index);
  if (!calls->is_array()) throw bad_request(where + " must be an array of {id, type, function}", "messages");
  for (size_t j = 0; j < calls->size(); ++j) {
    const json& c = (*calls)[j];
    const std::string at = fmt::format("{}[{}]", where, j);
    if (!c.is_object()) throw bad_request(at + " must be an object {id, type, function}", "messages");
    refuse_unknown_fields(c, {kCallFields}, at);
    if (const json* type = field(c, "type"); type && *type != "function") {
      throw bad_request(at + ".type must be \"function\"", "messages");
    }
    if (const json* id = field(c, "id"); id && !id->is_string()) throw bad_request(at + ".id must be a string", "messages");
    const json* fn = field(c, "function");
    if (!fn || !fn->is_object()) throw bad_request(at + ".function must be an object {name, arguments}", "messages");
    refuse_unknown_fields(*fn, {kCallFunctionFields}, at + ".function");
    const json* name = field(*fn, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty()) {
      throw bad_request(at + ".function.name must be a non-empty string", "messages");
    }
    // OpenAI sends the arguments as JSON text; the template writes them as JSON (tojson of
    // the parsed object), so they must parse.
    ordered_json args = ordered_json::object();
    if (const json* a = field(*fn, "arguments")) {
      if (a->is_string()) {
        auto parsed = parse_bounded(a->get<std::string>());
        if (!parsed) {
          throw bad_request(fmt::format("{}.function.arguments is not valid JSON text (nested at most {} deep)", at,
                                        kMaxJsonDepth),
                            "messages");
        }
        args = std::move(*parsed);
      } else if (a->is_object()) {
        args = ordered_json::parse(a->dump());
      } else {
        throw bad_request(at + ".function.arguments must be a string of JSON", "messages");
      }
    }
    out.push_back({name->get<std::string>(), python_json(args)});
  }
  return out;
}

ToolCallSplitter::ToolCallSplitter(bool constrained, std::vector<std::string> allowed_names, bool parallel)
    : constrained_(constrained), names_(std::move(allowed_names)), parallel_(parallel) {}

std::optional<ToolCall> ToolCallSplitter::parse_call(std::string_view text) const {
  auto parsed = parse_bounded(trim(text));
  if (!parsed || !parsed->is_object()) return std::nullopt;
  const ordered_json& v = *parsed;
  auto name = v.find("name");
  if (name == v.end() || !name->is_string()) return std::nullopt;
  if (std::ranges::find(names_, name->get<std::string>()) == names_.end()) return std::nullopt;
  ordered_json args = ordered_json::object();
  if (auto a = v.find("arguments"); a != v.end()) {
    if (a->is_string()) {  // some models write the arguments as JSON text
      auto inner = parse_bounded(a->get<std::string>());
      if (!inner) return std::nullopt;
      args = std::move(*inner);
    } else {
      args = *a;
    }
  }
  if (!args.is_object()) return std::nullopt;
  return ToolCall{random_id("call_"), name->get<std::string>(), args.dump()};
}

void ToolCallSplitter::emit_text(std::vector<Event>& out, std::string text) {
  if (text.empty()) return;
  if (!out.empty() && !out.back().is_call) {
    out.back().text += text;
  } else {
    out.push_back({false, std::move(text), {}});
  }
}

void ToolCallSplitter::emit_call(std::vector<Event>& out, std::string_view block, std::string_view raw) {
  auto call = parse_call(block);
  if (!call) {
    emit_text(out, std::string(raw));  // not a call after all: it stays text
    return;
  }
  if (!parallel_ && calls_ > 0) return;  // parallel_tool_calls: false keeps the first call
  ++calls_;
  out.push_back({true, {}, std::move(*call)});
}

void ToolCallSplitter::scan(std::vector<Event>& out, bool at_end) {
  while (true) {
    if (inside_) {
      const size_t close = pending_.find(kClose);
      if (close == std::string::npos) {
        if (at_end) {  // never closed (max_tokens, say): the markup is text
          emit_text(out, std::string(kOpen) + pending_);
          pending_.clear();
          inside_ = false;
        }
        return;
      }
      std::string block = pending_.substr(0, close);
      pending_.erase(0, close + kClose.size());
      inside_ = false;
      emit_call(out, block, std::string(kOpen) + block + std::string(kClose));
      continue;
    }
    const size_t open = pending_.find(kOpen);
    if (open != std::string::npos) {
      emit_text(out, pending_.substr(0, open));
      pending_.erase(0, open + kOpen.size());
      inside_ = true;
      continue;
    }
    // Hold back the longest suffix that may still grow into "<tool_call>".
    size_t keep = 0;
    if (!at_end) {
      for (size_t k = std::min(pending_.size(), kOpen.size() - 1); k > 0; --k) {
        if (std::string_view(pending_).substr(pending_.size() - k) == kOpen.substr(0, k)) {
          keep = k;
          break;
        }
      }
    }
    emit_text(out, pending_.substr(0, pending_.size() - keep));
    pending_.erase(0, pending_.size() - keep);
    return;
  }
}

// Trailing whitespace of the text so far is held (blank_) until more text follows, so the
// newlines around calls do not become content: dropped when a call follows, released at the
// end only when no call was made. Where the pieces are cut does not change the result.
std::vector<ToolCallSplitter::Event> ToolCallSplitter::feed(std::string_view piece) {
  pending_ += piece;
  std::vector<Event> out;
  if (constrained_ || bare_ || !decide_bare()) return out;
  scan(out, false);
  return hold_blanks(std::move(out));
}

// Some models (Qwen2.5-Coder among them) answer a tool prompt with the call's JSON alone,
// bare or in a ```json fence, instead of the <tool_call> markup. A reply that starts that
// way is held whole until the end, when it either parses as one call or is released as
// text. False while the start is still undecided (only whitespace or "`"/"``" so far).
bool ToolCallSplitter::decide_bare() {
  if (decided_) return true;
  const size_t b = pending_.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return false;
  const std::string_view start = std::string_view(pending_).substr(b);
  constexpr std::string_view kFence = "```";
  if (start.size() < kFence.size() && kFence.starts_with(start)) return false;
  decided_ = true;
  bare_ = start.front() == '{' || start.starts_with(kFence);
  return !bare_;
}

// The reply as one bare or fenced call (decide_bare()), if it is one.
std::optional<ToolCall> ToolCallSplitter::parse_bare(std::string_view text) const {
  text = trim(text);
  if (text.starts_with("```")) {
    const size_t line = text.find('\n');
    if (line == std::string_view::npos || !text.ends_with("```") || text.size() < line + 4) return std::nullopt;
    const std::string_view info = trim(text.substr(3, line - 3));
    if (!info.empty() && info != "json") return std::nullopt;
    text = text.substr(line + 1, text.size() - line - 4);
  }
  return parse_call(text);
}

std::vector<ToolCallSplitter::Event> ToolCallSplitter::finish() {
  std::vector<Event> out;
  if (constrained_) {
    std::string text = std::move(pending_);
    pending_.clear();
    if (auto call = parse_call(text)) {
      ++calls_;
      out.push_back({true, {}, std::move(*call)});
    } else {
      out.push_back({false, std::move(text), {}});
    }
    return out;
  }
  if (bare_) {
    bare_ = false;
    if (auto call = parse_bare(pending_)) {
      pending_.clear();
      ++calls_;
      out.push_back({true, {}, std::move(*call)});
      return out;
    }
  }
  scan(out, true);
  out = hold_blanks(std::move(out));
  if (calls_ == 0 && !blank_.empty()) out.push_back({false, std::move(blank_), {}});
  blank_.clear();
  return out;
}

std::vector<ToolCallSplitter::Event> ToolCallSplitter::hold_blanks(std::vector<Event> events) {
  std::vector<Event> out;
  for (auto& e : events) {
    if (e.is_call) {
      blank_.clear();  // whitespace right before a call only separates it from the text
      out.push_back(std::move(e));
      continue;
    }
    std::string text = std::move(blank_) + e.text;
    const size_t last = text.find_last_not_of(" \t\r\n");
    if (last == std::string::npos) {
      blank_ = std::move(text);
      continue;
    }
    blank_ = text.substr(last + 1);
    text.resize(last + 1);
    out.push_back({false, std::move(text), {}});
  }
  return out;
}

ParsedReply parse_reply(const ToolRequest& tools, std::string_view text) {
  ToolCallSplitter splitter(tools.constrained(), tools.allowed_names(), tools.parallel);
  auto events = splitter.feed(text);
  for (auto& e : splitter.finish()) events.push_back(std::move(e));
  ParsedReply r;
  std::string content;
  for (auto& e : events) {
    if (e.is_call) r.calls.push_back(std::move(e.call));
    else content += e.text;
  }
  if (r.calls.empty()) {
    r.content = std::move(content);
  } else if (!is_blank(content)) {
    r.content = std::string(trim(content));
  }
  return r;
}

}  // namespace ragd::server
