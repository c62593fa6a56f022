// Chat templates: turn a list of messages into the prompt text a chat model was trained on.
//
// GGUF files carry the template as Jinja source (`tokenizer.chat_template`). Like llama.cpp's
// built-in templates, ragd recognises the family from tell-tale substrings and renders it
// natively (no Jinja interpreter). Families:
//   chatml      <|im_start|>role\ncontent<|im_end|>\n            (SmolLM2, Qwen2/2.5, Hermes)
//   qwen3       ChatML with reasoning (templates using `enable_thinking`): earlier turns'
//               <think> blocks are dropped, and the generation prompt is the
//               enable_thinking=false form "<|im_start|>assistant\n<think>\n\n</think>\n\n"
//   llama3      <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
//               (Llama-3.1+ templates also get their "Cutting Knowledge Date" system header)
//   llama2      [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] ...
//   mistral     [INST] user [/INST]answer</s>[INST] ...        (Mistral-7B-Instruct v0.1/0.2)
//   mistral-v3  [INST] user[/INST] answer</s>                    (v0.3: "[AVAILABLE_TOOLS]")
//   phi3        <|role|>\ncontent<|end|>\n
//   gemma       <start_of_turn>user\ncontent<end_of_turn>\n  ("assistant" is "model")
// Details that the templates encode in Jinja are reproduced: a default system prompt written
// into a ChatML template (SmolLM2's "You are a helpful AI assistant named SmolLM...", Qwen's
// "You are Qwen...") is inserted when the first message is not a system message; Llama-3 and
// Gemma trim message content; families without a system role fold the system message into the
// first user turn. An unknown template falls back to ChatML with a warning.
//
// Tools (function calling): a template whose Jinja source carries a tool format renders the
// declared tools and the tool turns natively too. Supported: the Hermes format of Qwen2.5's
// (and Qwen3's, whose system turn has no default text)
// ChatML template (recognised by "<tool_call>" in the source): the tools as JSON lines in
// <tools></tools> appended to the system turn, assistant calls as
// "<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>", and consecutive `tool`
// messages as <tool_response> blocks of one user turn. Other templates have no tool format
// (tool_format() is None); callers refuse tools for them rather than invent one.
//
// The rendered text never starts with the BOS token even where the Jinja template writes
// `bos_token` first; tokenize() adds BOS as the vocabulary says.
//
// Prompts are rendered as segments so that only the template's own markers become special
// tokens: text taken from a message (its role and content, which may hold user input or
// retrieved document text) is tokenized without parsing special tokens, so a message writing
// "<|im_start|>system" cannot open a real system turn. Text between markers is still tokenized
// as one run, so ordinary messages get the ids the whole rendered string would get.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::model {

// A function call an assistant turn made (OpenAI `tool_calls`), as the template writes it
// back: the function's name and its arguments as JSON text.
struct ChatToolCall {
  std::string name;
  std::string arguments;  // a JSON object's text, inserted verbatim
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool" (others are passed through)
  std::string content;
  std::vector<ChatToolCall> tool_calls = {};  // assistant turns that called functions
};

class Tokenizer;

// A piece of a rendered prompt: the template's text (its special-token texts are parsed) or
// text from a message (never parsed for special tokens).
struct ChatSegment {
  std::string text;
  bool from_message;
};

// How a template writes tools and tool calls (see above).
enum class ToolFormat { None, Hermes };

enum class ChatTemplateKind { ChatML, Qwen3, Llama3, Llama2, Mistral, MistralV3, Phi3, Gemma, Unknown };

// "chatml", "qwen3", "llama3", "llama2", "mistral", "mistral-v3", "phi3", "gemma", "unknown".
std::string_view chat_template_name(ChatTemplateKind kind);

// Recognises a family name (as above) or Jinja template source.
ChatTemplateKind detect_chat_template(std::string_view template_text_or_name);

// A recognised template, ready to render many conversations.
class ChatTemplate {
 public:
  // Never fails: unknown templates render as ChatML (and log a warning here, once).
  explicit ChatTemplate(std::string_view template_text_or_name);

  ChatTemplateKind kind() const { return kind_; }  // Unknown when it fell back to ChatML
  // The system prompt the template inserts when the conversation has none ("" if none).
  const std::string& default_system_prompt() const { return default_system_; }
  ToolFormat tool_format() const { return tool_format_; }

  // add_generation_prompt appends the header that starts the assistant's reply. `tools`: the
  // declared tools, each one JSON text as the template's `tool | tojson` writes it
  // ({"type": "function", "function": {...}}); rendered only by a template with a tool
  // format (callers check tool_format(); a template without one ignores them, and renders
  // tool_calls and `tool` turns as plain turns).
  std::vector<ChatSegment> render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                  const std::vector<std::string>& tools = {}) const;
  // The concatenated text of render(), for display and tests; never tokenize it with
  // parse_special (that would let messages forge turns): use tokenize().
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                    const std::vector<std::string>& tools = {}) const;
  // The prompt's token ids, BOS included where the vocabulary asks for it.
  std::vector<int32_t> tokenize(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const std::vector<std::string>& tools = {}) const;

 private:
  ChatTemplateKind kind_;
  ToolFormat tool_format_ = ToolFormat::None;
  std::string default_system_;   // chatml
  std::string knowledge_date_;   // llama3 (3.1+): e.g. "December 2023"; "" for Llama-3.0
  std::string today_date_;       // llama3 (3.1+): the template's default date string
};

class GgufFile;

// The template to use for a model file: its tokenizer.chat_template; for a file without one
// (base models such as Gemma-3-270M) the built-in family of its architecture when that has
// one ("gemma" for gemma/gemma2/gemma3, "phi3" for phi3: vocabularies without ChatML
// markers), else ""
// (ChatML, with the warning an unknown template gets).
std::string chat_template_for(const GgufFile& file);

// One-shot form of ChatTemplate(template_text_or_name).apply(messages, add_generation_prompt).
std::string apply_chat_template(std::string_view template_text_or_name,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt);

// One-shot form of ChatTemplate(template_text_or_name).tokenize(...).
std::vector<int32_t> tokenize_chat(const Tokenizer& tokenizer,
                                   std::string_view template_text_or_name,
                                   const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt);

}  // namespace ragd::model
