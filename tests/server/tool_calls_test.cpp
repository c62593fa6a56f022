// Tool calling (server/tool_calls.h): the request's tools / tool_choice / tool messages, the
// grammar that forces a call, and the parsing of <tool_call> markup out of generated text,
// whole or piece by piece.
#include "server/tool_calls.h"

#include <gtest/gtest.h>

#include "engine/json_recognizer.h"
#include "server/api_error.h"
#include "server/request_parsing.h"

namespace ragd::server {
namespace {

using nlohmann::json;

const json kWeather = {{"type", "function"},
                       {"function",
                        {{"name", "get_weather"},
                         {"description", "Current weather"},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"city", {{"type", "string"}}}, {"unit", {{"enum", {"C", "F"}}}}}},
                           {"required", {"city"}}}}}}};
const json kTime = {{"type", "function"}, {"function", {{"name", "get_time"}}}};

json chat(json patch = json::object()) {
  json body = {{"messages", {{{"role", "user"}, {"content", "Weather in Paris?"}}}}, {"tools", {kWeather, kTime}}};
  body.merge_patch(patch);
  return body;
}

// The 400 a parse throws: its param and message.
std::pair<std::string, std::string> refusal(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return {e.param(), e.what()};
  }
  ADD_FAILURE() << "expected a 400";
  return {};
}

void expect_refused(const json& body, const std::string& param, const std::string& needle) {
  auto [p, what] = refusal([&] { parse_chat_request(body); });
  EXPECT_EQ(p, param) << what;
  EXPECT_NE(what.find(needle), std::string::npos) << what;
}

bool accepts(const engine::JsonSchemaGrammar& g, std::string_view text) {
  engine::JsonRecognizer r(g);
  return r.feed(text) && r.complete();
}

ToolCallSplitter splitter(bool constrained = false, bool parallel = true) {
  return ToolCallSplitter(constrained, {"get_weather", "get_time"}, parallel);
}

// Feeds `pieces`, then finishes: the events in order.
std::vector<ToolCallSplitter::Event> run(ToolCallSplitter s, const std::vector<std::string>& pieces) {
  std::vector<ToolCallSplitter::Event> out;
  for (const auto& p : pieces) {
    for (auto& e : s.feed(p)) out.push_back(std::move(e));
  }
  for (auto& e : s.finish()) out.push_back(std::move(e));
  return out;
}

// "text:..." / "call:<name><arguments>" per event, adjacent text merged (how text is cut into
// events depends on the pieces; what it says must not).
std::vector<std::string> describe(const std::vector<ToolCallSplitter::Event>& events) {
  std::vector<std::string> out;
  bool text = false;
  for (const auto& e : events) {
    if (!e.is_call && text) {
      out.back() += e.text;
      continue;
    }
    out.push_back(e.is_call ? "call:" + e.call.name + e.call.arguments : "text:" + e.text);
    text = !e.is_call;
  }
  return out;
}

TEST(ToolRequest, DefaultsAndChoices) {
  auto r = parse_chat_request(chat());
  EXPECT_EQ(r.tools.choice, ToolChoice::Auto);  // OpenAI: auto when tools are given
  ASSERT_EQ(r.tools.tools.size(), 2u);
  EXPECT_EQ(r.tools.grammar, nullptr);
  EXPECT_EQ(r.gen.options.json_constraint, nullptr);
  EXPECT_EQ(r.tools.prompt_tools().size(), 2u);
  EXPECT_EQ(parse_chat_request(chat({{"tool_choice", "none"}})).tools.prompt_tools().size(), 0u);
  EXPECT_FALSE(parse_chat_request(chat({{"tool_choice", "none"}})).tools.active());
  EXPECT_FALSE(parse_chat_request(chat({{"tools", nullptr}})).tools.active());
  EXPECT_FALSE(parse_chat_request(chat({{"tools", json::array()}})).tools.active());
  EXPECT_FALSE(parse_chat_request(chat({{"parallel_tool_calls", false}})).tools.parallel);

  auto required = parse_chat_request(chat({{"tool_choice", "required"}}));
  ASSERT_NE(required.gen.options.json_constraint, nullptr);
  const auto& g = *required.gen.options.json_constraint;
  EXPECT_TRUE(accepts(g, R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}})"));
  EXPECT_TRUE(accepts(g, R"({"name": "get_weather", "arguments": {"city": "Paris"}})"));
  EXPECT_TRUE(accepts(g, R"({"name": "get_time", "arguments": {}})"));
  EXPECT_FALSE(accepts(g, R"({"name": "get_weather", "arguments": {}})"));  // city is required
  EXPECT_FALSE(accepts(g, R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "K"}})"));
  EXPECT_FALSE(accepts(g, R"({"name": "get_time", "arguments": {"x": 1}})"));  // no parameters
  EXPECT_FALSE(accepts(g, R"({"name": "other", "arguments": {}})"));

  auto named = parse_chat_request(chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", "get_time"}}}}}}));
  EXPECT_EQ(named.tools.choice, ToolChoice::Named);
  EXPECT_EQ(named.tools.allowed_names(), std::vector<std::string>{"get_time"});
  ASSERT_NE(named.gen.options.json_constraint, nullptr);
  EXPECT_TRUE(accepts(*named.gen.options.json_constraint, R"({"name": "get_time", "arguments": {}})"));
  EXPECT_FALSE(accepts(*named.gen.options.json_constraint, R"({"name": "get_weather", "arguments": {"city": "x"}})"));
}

TEST(ToolRequest, ToolsRenderAsTojsonInRequestOrder) {
  // The raw body's key order (name before description) survives; nlohmann::json would sort.
  const std::string raw =
      R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": )"
      R"({"name": "f", "description": "d é", "parameters": {"type": "object", "properties": {"b": {}, "a": {}}}}}]})";
  auto r = parse_chat_request(json::parse(raw), {}, raw);
  ASSERT_EQ(r.tools.tools.size(), 1u);
  EXPECT_EQ(r.tools.tools[0].rendered,
            R"({"type": "function", "function": {"name": "f", "description": "d é", )"
            R"("parameters": {"type": "object", "properties": {"b": {}, "a": {}}}}})");
}

TEST(ToolRequest, BadShapesAreRefusedByName) {
  expect_refused(chat({{"tools", "get_weather"}}), "tools", "'tools' must be an array");
  expect_refused(chat({{"tools", {1}}}), "tools", "tools[0] must be an object");
  expect_refused(chat({{"tools", {{{"type", "retrieval"}}}}}), "tools", "tools[0].type must be \"function\"");
  expect_refused(chat({{"tools", {{{"type", "function"}}}}}), "tools", "tools[0].function must be an object");
  expect_refused(chat({{"tools", {{{"type", "function"}, {"function", {{"name", "a b"}}}}}}}), "tools",
                 "tools[0].function.name");
  expect_refused(chat({{"tools", {kTime, kTime}}}), "tools", "declares the function 'get_time' twice");
  expect_refused(chat({{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", "x"}}}}}}}),
                 "tools", "parameters must be a JSON schema object");
  expect_refused(chat({{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"strict", 1}}}}}}}), "tools",
                 "strict must be true or false");
  expect_refused(chat({{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"examples", 1}}}}}}}),
                 "examples", "unknown field");
  expect_refused(chat({{"tool_choice", "always"}}), "tool_choice", "'tool_choice' must be");
  expect_refused(chat({{"tool_choice", 1}}), "tool_choice", "'tool_choice' must be");
  expect_refused(chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", "get_stock"}}}}}}), "tool_choice",
                 "'get_stock', which 'tools' does not declare");
  expect_refused(chat({{"tools", nullptr}, {"tool_choice", "required"}}), "tool_choice", "needs a non-empty 'tools'");
  expect_refused(chat({{"parallel_tool_calls", "yes"}}), "parallel_tool_calls", "true or false");
  // Required / named need a schema the constraint supports; auto does not compile it.
  json unsupported = {{"type", "function"},
                      {"function", {{"name", "f"}, {"parameters", {{"type", "object"}, {"patternProperties", json::object()}}}}}};
  expect_refused(chat({{"tools", {unsupported}}, {"tool_choice", "required"}}), "tools",
                 "'tools[0].function.parameters': 'patternProperties' is not supported");
  EXPECT_NO_THROW(parse_chat_request(chat({{"tools", {unsupported}}})));
}

TEST(ToolRequest, CombinationsRefused) {
  expect_refused(chat({{"collection", "docs"}}), "tools", "not supported with a 'collection'");
  expect_refused(chat({{"collection", "docs"}, {"tools", nullptr}, {"tool_choice", "auto"}}), "tool_choice",
                 "not supported with a 'collection'");
  EXPECT_NO_THROW(parse_chat_request(chat({{"collection", "docs"}, {"tools", json::array()}, {"tool_choice", "none"}})));
  expect_refused(chat({{"response_format", {{"type", "json_object"}}}}), "response_format", "cannot be combined");
  expect_refused(chat({{"logprobs", true}}), "logprobs", "not supported together with 'tools'");
  // tool_choice "none": the tools are inert, so the others are fine.
  EXPECT_NO_THROW(parse_chat_request(chat({{"tool_choice", "none"}, {"logprobs", true}})));
  auto [param, what] = refusal([] { parse_completion_request({{"prompt", "p"}, {"tools", {kTime}}}); });
  EXPECT_EQ(param, "tools");
  EXPECT_NE(what.find("/v1/chat/completions"), std::string::npos) << what;
}

TEST(ToolRequest, ToolTurnsInMessages) {
  json messages = {{{"role", "user"}, {"content", "Weather in Paris?"}},
                   {{"role", "assistant"},
                    {"content", nullptr},
                    {"tool_calls",
                     {{{"id", "call_1"},
                       {"type", "function"},
                       {"function", {{"name", "get_weather"}, {"arguments", R"({"city":"Paris","unit":"C"})"}}}}}}},
                   {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18 degrees"}}};
  auto r = parse_chat_request(chat({{"messages", messages}}));
  EXPECT_TRUE(r.tool_turns);
  ASSERT_EQ(r.messages.size(), 3u);
  ASSERT_EQ(r.messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(r.messages[1].content, "");
  EXPECT_EQ(r.messages[1].tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.messages[1].tool_calls[0].arguments, R"({"city": "Paris", "unit": "C"})");  // as tojson writes it
  EXPECT_EQ(r.messages[2].role, "tool");
  EXPECT_FALSE(parse_chat_request(chat()).tool_turns);

  auto with = [&](size_t i, json patch) {
    json m = messages;
    m[i].merge_patch(patch);
    return chat({{"messages", m}});
  };
  expect_refused(with(0, {{"tool_calls", json::array()}}), "messages", "messages[0].tool_calls needs role \"assistant\"");
  expect_refused(with(0, {{"tool_call_id", "x"}}), "messages", "messages[0].tool_call_id needs role \"tool\"");
  expect_refused(with(2, {{"tool_call_id", 5}}), "messages", "messages[2].tool_call_id must be a string");
  expect_refused(with(1, {{"tool_calls", "f"}}), "messages", "messages[1].tool_calls must be an array");
  expect_refused(with(1, {{"tool_calls", {{{"function", {{"name", "f"}, {"arguments", "{bad"}}}}}}}), "messages",
                 "messages[1].tool_calls[0].function.arguments is not valid JSON");
  // Arguments nested past the JSON depth limit are refused, not recursed into.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_refused(with(1, {{"tool_calls", {{{"function", {{"name", "f"}, {"arguments", deep}}}}}}}), "messages",
                 "not valid JSON text");
  expect_refused(with(1, {{"tool_calls", {{{"function", {{"arguments", "{}"}}}}}}}), "messages",
                 "messages[1].tool_calls[0].function.name");
  expect_refused(with(1, {{"tool_calls", {{{"type", "code"}, {"function", {{"name", "f"}}}}}}}), "messages",
                 "type must be \"function\"");
}

TEST(ToolCallSplitter, OneCallAndTheTextAroundIt) {
  auto events = run(splitter(), {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"});
  EXPECT_EQ(describe(events), std::vector<std::string>{R"(call:get_weather{"city":"Paris"})"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].call.id.starts_with("call_"));

  events = run(splitter(), {"Let me check.\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n"});
  EXPECT_EQ(describe(events), (std::vector<std::string>{"text:Let me check.", "call:get_time{}"}));
  // Plain text is content, unchanged, trailing whitespace included.
  EXPECT_EQ(describe(run(splitter(), {"It is sunny.\n"})), std::vector<std::string>{"text:It is sunny.\n"});
  // A '<' that never becomes markup is released.
  EXPECT_EQ(describe(run(splitter(), {"a <", "tool b", " < c"})), std::vector<std::string>{"text:a <tool b < c"});
}

TEST(ToolCallSplitter, SeveralCalls) {
  const std::string text =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"C\"}}\n</tool_call>";
  const std::vector<std::string> both = {R"(call:get_weather{"city":"Paris"})",
                                         R"(call:get_weather{"city":"Oslo","unit":"C"})"};
  auto events = run(splitter(), {text});
  EXPECT_EQ(describe(events), both);
  EXPECT_NE(events[0].call.id, events[1].call.id);
  // parallel_tool_calls: false keeps the first.
  EXPECT_EQ(describe(run(splitter(false, false), {text})), std::vector<std::string>{both[0]});
}

TEST(ToolCallSplitter, MalformedCallsStayText) {
  for (std::string block : {"{\"name\": \"get_weather\", \"arguments\": {\"city\": }",  // bad JSON
                            "{\"name\": \"get_stock\", \"arguments\": {}}",             // undeclared
                            "{\"name\": \"get_time\", \"arguments\": [1]}",             // not an object
                            "[\"get_time\"]"}) {
    const std::string text = "<tool_call>\n" + block + "\n</tool_call>";
    EXPECT_EQ(describe(run(splitter(), {text})), std::vector<std::string>{"text:" + text});
    auto reply = parse_reply(parse_chat_request(chat()).tools, text);
    EXPECT_TRUE(reply.calls.empty());
    EXPECT_EQ(reply.content, text);
  }
  // Cut off before the closing tag (max_tokens): text, markup included.
  const std::string cut = "<tool_call>\n{\"name\": \"get_time\", \"argu";
  EXPECT_EQ(describe(run(splitter(), {cut})), std::vector<std::string>{"text:" + cut});
  // Model output nested past the limit is text, not a call.
  const std::string deep = "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"a\": " + std::string(50000, '[') +
                           std::string(50000, ']') + "}}</tool_call>";
  EXPECT_EQ(describe(run(splitter(), {deep})), std::vector<std::string>{"text:" + deep});
  // Arguments written as JSON text are accepted.
  EXPECT_EQ(describe(run(splitter(), {"<tool_call>{\"name\": \"get_time\", \"arguments\": \"{}\"}</tool_call>"})),
            std::vector<std::string>{"call:get_time{}"});
}

TEST(ToolCallSplitter, MarkupSplitAcrossPiecesGivesTheSameResult) {
  const std::string text =
      "Checking. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n";
  const auto whole = describe(run(splitter(), {text}));
  ASSERT_EQ(whole.size(), 3u);
  for (size_t size : {1, 2, 3, 5, 11, 12}) {
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size(); i += size) pieces.push_back(text.substr(i, size));
    EXPECT_EQ(describe(run(splitter(), pieces)), whole) << "pieces of " << size;
  }
  // Nothing that may still be markup is released early.
  auto s = splitter();
  EXPECT_EQ(describe(s.feed("Checking. <tool_")), std::vector<std::string>{"text:Checking."});
  EXPECT_TRUE(s.feed("call>\n{\"name\": \"get_time\", ").empty());
  EXPECT_EQ(describe(s.feed("\"arguments\": {}}\n</tool_call>")), std::vector<std::string>{"call:get_time{}"});
  EXPECT_TRUE(s.finish().empty());
  EXPECT_EQ(s.calls(), 1u);
}

// A reply that is only a call's JSON, bare or fenced (as Qwen2.5-Coder answers), is a call.
TEST(ToolCallSplitter, BareOrFencedCall) {
  const std::vector<std::string> call = {"call:get_time{}"};
  const std::string fenced = "```json\n{\"name\": \"get_time\", \"arguments\": {}}\n```";
  EXPECT_EQ(describe(run(splitter(), {fenced})), call);
  EXPECT_EQ(describe(run(splitter(), {"\n{\"name\": \"get_time\", \"arguments\": {}}"})), call);
  for (size_t size : {1, 2, 4}) {
    std::vector<std::string> pieces;
    for (size_t i = 0; i < fenced.size(); i += size) pieces.push_back(fenced.substr(i, size));
    EXPECT_EQ(describe(run(splitter(), pieces)), call) << size;
  }
  // Anything else that starts the same way is text, released whole at the end.
  for (std::string text : {"```python\nprint(1)\n```", "{\"a\": 1}", "{\"name\": \"get_time\", \"arguments\": {}} and more",
                           "`x` is a variable", "```json\n{\"name\": \"get_stock\", \"arguments\": {}}\n```"}) {
    EXPECT_EQ(describe(run(splitter(), {text})), std::vector<std::string>{"text:" + text});
    auto s = splitter();
    if (text.starts_with("`x`")) continue;
    EXPECT_TRUE(s.feed(text).empty()) << text;  // held until the end
  }
  // Markup in a held reply is still found.
  EXPECT_EQ(describe(run(splitter(), {"{x} <tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>"})),
            (std::vector<std::string>{"text:{x}", "call:get_time{}"}));
}

TEST(ToolCallSplitter, ConstrainedOutputIsOneCall) {
  auto events = run(splitter(true), {"{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}"});
  EXPECT_EQ(describe(events), std::vector<std::string>{R"(call:get_weather{"city":"Paris"})"});
  // Cut by max_tokens: the text comes back as it is.
  EXPECT_EQ(describe(run(splitter(true), {"{\"name\": \"get_weather\", \"argu"})),
            std::vector<std::string>{"text:{\"name\": \"get_weather\", \"argu"});
}

TEST(ToolCallSplitter, ReplyContentIsNullWhenOnlyCalls) {
  const auto tools = parse_chat_request(chat()).tools;
  auto reply = parse_reply(tools, "\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n");
  ASSERT_EQ(reply.calls.size(), 1u);
  EXPECT_FALSE(reply.content.has_value());
  reply = parse_reply(tools, "Sure.\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>");
  EXPECT_EQ(reply.content, "Sure.");
  reply = parse_reply(tools, "");
  EXPECT_EQ(reply.content, "");
  EXPECT_TRUE(reply.calls.empty());
}

TEST(PythonJson, MatchesJsonDumps) {
  nlohmann::ordered_json v = nlohmann::ordered_json::parse(R"({"b": [1, 2.5, "x\n\"é"], "a": {}, "c": null, "d": []})");
  EXPECT_EQ(python_json(v), R"({"b": [1, 2.5, "x\n\"é"], "a": {}, "c": null, "d": []})");
}

}  // namespace
}  // namespace ragd::server
