// Tool calling (OpenAI `tools`, `tool_choice`, `tool_calls`) on the HTTP side: reading the
// request's tools and choice, the grammar that forces a call, and turning generated text
// back into calls.
//
// The prompt carries the tools in the model's own tool format (model/chat_template.h: the
// Hermes format of Qwen2.5). What comes back depends on tool_choice:
//   auto      free generation; "<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>"
//             blocks in the text become calls, the text around them is the content; a reply
//             that is only such an object, bare or in a ```json fence, is a call too. A block
//             that does not parse (bad JSON, an undeclared name, arguments not an object, or
//             cut off by max_tokens) stays in the content as text: never an error.
//   required  constrained decoding (engine/json_constraint.h): the whole output is one
//   named     {"name": <an allowed name>, "arguments": <that function's parameters>} object,
//             so it always parses (unless max_tokens cuts it: then it is returned as text
//             with finish_reason "length").
//   none      tools are not rendered into the prompt and nothing is parsed.
// Constrained modes produce exactly one call per choice; `parallel_tool_calls: false` keeps
// only the first call in auto mode.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/json_schema.h"
#include "model/chat_template.h"

namespace ragd::server {

enum class ToolChoice { None, Auto, Required, Named };

struct ToolSpec {
  std::string name;
  std::string rendered;  // the tool object as the template's `tool | tojson` writes it
};

struct ToolRequest {
  std::vector<ToolSpec> tools;
  ToolChoice choice = ToolChoice::None;  // OpenAI: auto when tools are given, else none
  std::string named;                     // ToolChoice::Named: the function
  bool parallel = true;                  // parallel_tool_calls
  // Required / Named: the output grammar (one call of an allowed function).
  std::shared_ptr<const engine::JsonSchemaGrammar> grammar;

  bool active() const { return !tools.empty() && choice != ToolChoice::None; }
  bool constrained() const { return choice == ToolChoice::Required || choice == ToolChoice::Named; }
  // The tools' JSON texts for the prompt: none when tool_choice is "none".
  std::vector<std::string> prompt_tools() const;
  // The names a call may use: all declared ones, or the named one.
  std::vector<std::string> allowed_names() const;
};

// Reads `tools`, `tool_choice` and `parallel_tool_calls` of a chat body; `raw_body` (its
// text) keeps the schemas' key order. Throws ApiError(400) naming the field for a bad
// shape, a duplicate or invalid function name, a tool_choice naming an undeclared function,
// or (for required / named) a parameters schema the constraint compiler does not support.
ToolRequest parse_tool_request(const nlohmann::json& body, std::string_view raw_body);

// An assistant message's `tool_calls` ([{id, type: "function", function: {name,
// arguments: "<JSON text>"}}]) as the template writes them back. Throws ApiError(400)
// naming messages[index].
std::vector<model::ChatToolCall> parse_message_tool_calls(const nlohmann::json& message, size_t index);

// JSON text as Python's json.dumps writes it by default (", " and ": " separators, non-ASCII
// kept): what Jinja's `tojson` puts in the prompts the models were trained on.
std::string python_json(const nlohmann::ordered_json& value);

struct ToolCall {
  std::string id;         // "call_…"
  std::string name;
  std::string arguments;  // compact JSON text of an object
};

// Splits generated text into content and calls, piece by piece, so a stream can send text
// as soon as it cannot be markup and each call once it is complete; feeding the whole text
// at once gives the same result. Auto mode holds back only a suffix that may start
// "<tool_call>" and trailing whitespace (dropped before a call, and at the end once a call
// was made);
// constrained mode holds everything until finish() and parses it as one call. In auto mode a
// reply that starts with "{" or "```" is held whole too: a reply that is exactly one call's
// JSON, bare or in a ```json fence, is a call (models such as Qwen2.5-Coder answer so).
class ToolCallSplitter {
 public:
  struct Event {
    bool is_call = false;
    std::string text;  // !is_call: content
    ToolCall call;     // is_call
  };

  ToolCallSplitter(bool constrained, std::vector<std::string> allowed_names, bool parallel);

  std::vector<Event> feed(std::string_view piece);
  std::vector<Event> finish();
  size_t calls() const { return calls_; }

 private:
  void scan(std::vector<Event>& out, bool at_end);
  std::optional<ToolCall> parse_call(std::string_view json_text) const;
  bool decide_bare();
  std::optional<ToolCall> parse_bare(std::string_view text) const;
  void emit_call(std::vector<Event>& out, std::string_view block_text, std::string_view raw);
  void emit_text(std::vector<Event>& out, std::string text);
  std::vector<Event> hold_blanks(std::vector<Event> events);

  bool constrained_;
  std::vector<std::string> names_;
  bool parallel_;
  bool inside_ = false;  // after "<tool_call>", before "</tool_call>"
  bool decided_ = false;  // auto: whether the reply is a bare call is decided (decide_bare())
  bool bare_ = false;     // auto: the reply starts like a bare call: held whole
  std::string pending_;  // text not yet emitted
  std::string blank_;    // whitespace-only text held back (see feed())
  size_t calls_ = 0;
};

// A whole reply: its content (null when it is only calls, or empty) and its calls.
struct ParsedReply {
  std::optional<std::string> content;
  std::vector<ToolCall> calls;
};
ParsedReply parse_reply(const ToolRequest& tools, std::string_view text);

}  // namespace ragd::server
