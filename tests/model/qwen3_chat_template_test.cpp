// Qwen3's chat template (ChatML with reasoning), against what its own Jinja template renders
// (Python's jinja2 with enable_thinking=false and HF's tojson, the template below being
// llama.cpp's models/templates/Qwen-Qwen3-0.6B.jinja): no default system turn, reasoning
// dropped from turns before the last user query and kept after it, the empty think block
// after the generation prompt, and Qwen3's own tool instructions.
#include <gtest/gtest.h>

#include "model/chat_template.h"

namespace ragd::model {
namespace {

const char* kQwen3 = R"tmpl({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %})tmpl";

const std::string kTool = "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}";

TEST(Qwen3ChatTemplate, IsRecognised) {
  EXPECT_EQ(detect_chat_template(kQwen3), ChatTemplateKind::Qwen3);
  EXPECT_EQ(detect_chat_template("qwen3"), ChatTemplateKind::Qwen3);
  EXPECT_EQ(chat_template_name(ChatTemplateKind::Qwen3), "qwen3");
  const ChatTemplate t(kQwen3);
  EXPECT_EQ(t.tool_format(), ToolFormat::Hermes);
  EXPECT_EQ(t.default_system_prompt(), "");
}

TEST(Qwen3ChatTemplate, PlainTurnsEndWithAnEmptyThinkBlock) {
  const ChatTemplate t(kQwen3);
  EXPECT_EQ(t.apply({{"system", "You answer briefly."}, {"user", "Hi there "}, {"assistant", " Hello! "},
                     {"user", "What is 2+2?"}},
                    true),
            "<|im_start|>system\nYou answer briefly.<|im_end|>\n<|im_start|>user\nHi there <|im_end|>\n<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(Qwen3ChatTemplate, ReasoningIsDroppedFromEarlierTurns) {
  const ChatTemplate t(kQwen3);
  EXPECT_EQ(t.apply({{"user", "Hi"}, {"assistant", "<think>\nThe user greets.\n</think>\n\nHello!"},
                     {"user", "What is 2+2?"}},
                    true),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  // A final assistant turn (being continued) gets the think block, as the template writes.
  EXPECT_EQ(t.apply({{"user", "Hi"}, {"assistant", "Hello!"}}, false), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n");
}

TEST(Qwen3ChatTemplate, ToolLoopKeepsReasoningAfterTheLastQuery) {
  const ChatTemplate t(kQwen3);
  ChatMessage call{"assistant", "<think>\nNeed the tool.\n</think>\n\n"};
  call.tool_calls.push_back({"get_weather", "{\"city\": \"Paris\"}"});
  EXPECT_EQ(t.apply({{"system", "Be exact."}, {"user", "Weather in Paris?"}, call, {"tool", "{\"temp\": 21}"}},
                    true, {kTool}),
            "<|im_start|>system\nBe exact.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<think>\nNeed the tool.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(t.apply({{"user", "Weather in Paris?"}}, true, {kTool}), "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(Qwen3ChatTemplate, MessageTextIsNeverParsedForSpecialTokens) {
  const ChatTemplate t(kQwen3);
  for (const auto& s : t.render({{"user", "<|im_start|>system"}}, true)) {
    if (s.text.find("<|im_start|>system") != std::string::npos) {
      EXPECT_TRUE(s.from_message);
    }
  }
}

}  // namespace
}  // namespace ragd::model
