#include "model/chat_template.h"

#include <algorithm>
#include <mutex>
#include <span>
#include <unordered_set>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "util/log.h"

namespace ragd::model {

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Python's str.strip() / Jinja's trim for the whitespace that matters in prompts.
std::string_view trim(std::string_view s) {
  constexpr std::string_view kWs = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(kWs);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kWs) - b + 1);
}

// Reads the literal text of a Jinja string starting at `pos` up to `end_marker`, undoing
// escapes (\n \t \' \" \\). Returns false when the text is not a plain literal, i.e. it
// leaves the string (an unescaped quote) or holds template syntax before the marker.
bool literal_until(std::string_view tmpl, size_t pos, std::string_view end_marker, std::string& out) {
  out.clear();
  while (pos < tmpl.size()) {
    if (tmpl.substr(pos).starts_with(end_marker)) return true;
    const char c = tmpl[pos];
    if (c == '\\' && pos + 1 < tmpl.size()) {
      const char e = tmpl[pos + 1];
      out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
      pos += 2;
      continue;
    }
    if (c == '\'' || c == '"' || c == '{' || c == '}') return false;
    out.push_back(c);
    ++pos;
  }
  return false;
}

// ChatML templates that write a fixed system turn (SmolLM2, Qwen2.5) hold it as
// '<|im_start|>system\n<TEXT><|im_end|>\n' with a literal TEXT; finds TEXT.
std::string find_default_system(std::string_view tmpl) {
  constexpr std::string_view kStart = "<|im_start|>system";
  std::string text;
  for (size_t at = tmpl.find(kStart); at != std::string_view::npos; at = tmpl.find(kStart, at + 1)) {
    size_t pos = at + kStart.size();
    if (tmpl.substr(pos).starts_with("\\n")) {
      pos += 2;
    } else if (tmpl.substr(pos).starts_with("\n")) {
      pos += 1;
    } else {
      continue;
    }
    if (literal_until(tmpl, pos, "<|im_end|>", text) && !text.empty()) return text;
  }
  return {};
}

// Llama-3.1+ templates: "Cutting Knowledge Date: December 2023\n" and a default
// `date_string = "26 Jul 2024"`.
void find_llama3_dates(std::string_view tmpl, std::string& knowledge, std::string& today) {
  constexpr std::string_view kKnowledge = "Cutting Knowledge Date: ";
  if (const size_t at = tmpl.find(kKnowledge); at != std::string_view::npos) {
    const size_t pos = at + kKnowledge.size();
    const size_t end = tmpl.find_first_of("\\\n\"'", pos);
    knowledge = std::string(tmpl.substr(pos, end == std::string_view::npos ? 0 : end - pos));
  }
  if (knowledge.empty()) return;
  today = "26 Jul 2024";  // the Llama-3.1/3.2 templates' fallback
  for (std::string_view key : {"date_string = \"", "date_string = '"}) {
    if (const size_t at = tmpl.find(key); at != std::string_view::npos) {
      const size_t pos = at + key.size();
      const size_t end = tmpl.find(key.back(), pos);
      if (end != std::string_view::npos) today = std::string(tmpl.substr(pos, end - pos));
      break;
    }
  }
}

using Messages = std::span<const ChatMessage>;

// Collects a prompt as segments: tpl() for the template's own text, msg() for text taken from a
// message (role or content). Adjacent text of one kind is merged.
class Builder {
 public:
  void tpl(std::string_view text) { add(text, false); }
  void msg(std::string_view text) { add(text, true); }
  // The standard roles are the template's own words (Phi-3 writes them inside its markers,
  // "<|user|>"); any other role name came from the request and is message text.
  void role(std::string_view name) {
    add(name, !(name == "system" || name == "user" || name == "assistant" || name == "model"));
  }
  void add(const ChatSegment& segment) { add(segment.text, segment.from_message); }
  std::vector<ChatSegment> take() { return std::move(segments_); }

 private:
  void add(std::string_view text, bool from_message) {
    if (text.empty()) return;
    if (segments_.empty() || segments_.back().from_message != from_message) {
      segments_.push_back({std::string(text), from_message});
    } else {
      segments_.back().text += text;
    }
  }
  std::vector<ChatSegment> segments_;
};

// Splits off a leading system message.
std::pair<const ChatMessage*, Messages> split_system(const std::vector<ChatMessage>& m) {
  if (!m.empty() && m.front().role == "system") return {&m.front(), Messages(m).subspan(1)};
  return {nullptr, Messages(m)};
}

void render_chatml(Builder& out, const std::vector<ChatMessage>& messages,
                   const std::string& default_system) {
  if (!default_system.empty() && !messages.empty() && messages.front().role != "system") {
    out.tpl("<|im_start|>system\n" + default_system + "<|im_end|>\n");
  }
  for (const auto& m : messages) {
    out.tpl("<|im_start|>");
    out.role(m.role);
    out.tpl("\n");
    out.msg(m.content);
    out.tpl("<|im_end|>\n");
  }
}

// Qwen2.5's template with tools: the system turn (the request's, else the default) gets the
// tool block; assistant turns with calls write them as <tool_call> blocks; runs of `tool`
// messages become one user turn of <tool_response> blocks. Without tools the system turn is
// plain ChatML's; calls and tool turns are rendered this way whether or not tools are given,
// as the Jinja template does.
// A Hermes-style tool call as Qwen2.5 and Qwen3 write it: <tool_call>, the JSON object of
// name and arguments (the arguments' text verbatim), </tool_call>.
void tool_call_block(Builder& out, const ChatToolCall& call) {
  out.tpl("<tool_call>\n{\"name\": \"");
  out.msg(call.name);
  out.tpl("\", \"arguments\": ");
  out.msg(call.arguments);
  out.tpl("}\n</tool_call>");
}

// Message i, a tool result: consecutive tool results share one user turn, each in its own
// <tool_response> block.
void tool_response_block(Builder& out, const std::vector<ChatMessage>& messages, size_t i) {
  if (i == 0 || messages[i - 1].role != "tool") out.tpl("<|im_start|>user");
  out.tpl("\n<tool_response>\n");
  out.msg(messages[i].content);
  out.tpl("\n</tool_response>");
  if (i + 1 == messages.size() || messages[i + 1].role != "tool") out.tpl("<|im_end|>\n");
}

void render_hermes(Builder& out, const std::vector<ChatMessage>& messages, const std::string& default_system,
                   const std::vector<std::string>& tools) {
  size_t first = 0;
  const bool has_system = !messages.empty() && messages.front().role == "system";
  if (!tools.empty()) {
    // The instructions are the template's literal text, doubled braces included (Qwen's
    // Jinja writes "{{" inside a string literal, so the model was trained on them).
    out.tpl("<|im_start|>system\n");
    if (has_system) {
      out.msg(messages.front().content);
      first = 1;
    } else {
      out.tpl(default_system);
    }
    out.tpl("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
    for (const auto& tool : tools) {
      out.tpl("\n");
      out.msg(tool);
    }
    out.tpl("\n</tools>\n\nFor each function call, return a json object with function name and arguments "
            "within <tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, "
            "\"arguments\": <args-json-object>}}\n</tool_call><|im_end|>\n");
  } else if (!default_system.empty() && !has_system) {
    out.tpl("<|im_start|>system\n" + default_system + "<|im_end|>\n");
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "assistant" && !m.tool_calls.empty()) {
      out.tpl("<|im_start|>assistant");
      if (!m.content.empty()) {
        out.tpl("\n");
        out.msg(m.content);
      }
      for (const auto& call : m.tool_calls) {
        out.tpl("\n");
        tool_call_block(out, call);
      }
      out.tpl("<|im_end|>\n");
    } else if (m.role == "tool") {
      tool_response_block(out, messages, i);
    } else {
      out.tpl("<|im_start|>");
      out.role(m.role);
      out.tpl("\n");
      out.msg(m.content);
      out.tpl("<|im_end|>\n");
    }
  }
}

// The tool instructions of Qwen3's template, its literal text (single braces, unlike
// Qwen2.5's) between the tool list and the end of the system turn.
constexpr std::string_view kQwen3ToolsEnd =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";

// Qwen3's template: ChatML without a default system turn, Hermes tool calls, and reasoning
// kept only where the model is still working on the last user query. An assistant turn's
// "<think>...</think>" part is cut from turns before the last real user message (one that is
// not a wrapped tool response); after it (a tool-calling loop), a turn with reasoning, and a
// final assistant turn being continued, is written as "<think>\nR\n</think>\n\nC".
void render_qwen3(Builder& out, const std::vector<ChatMessage>& messages,
                  const std::vector<std::string>& tools) {
  const bool has_system = !messages.empty() && messages.front().role == "system";
  if (!tools.empty()) {
    out.tpl("<|im_start|>system\n");
    if (has_system) {
      out.msg(messages.front().content);
      out.tpl("\n\n");
    }
    out.tpl("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
    for (const auto& tool : tools) {
      out.tpl("\n");
      out.msg(tool);
    }
    out.tpl(kQwen3ToolsEnd);
  } else if (has_system) {
    out.tpl("<|im_start|>system\n");
    out.msg(messages.front().content);
    out.tpl("<|im_end|>\n");
  }
  const auto is_query = [](const ChatMessage& m) {
    return m.role == "user" && !(m.content.starts_with("<tool_response>") &&
                                 m.content.ends_with("</tool_response>"));
  };
  size_t last_query = messages.empty() ? 0 : messages.size() - 1;
  for (size_t i = messages.size(); i-- > 0;) {
    if (is_query(messages[i])) {
      last_query = i;
      break;
    }
  }
  const auto strip_newlines = [](std::string_view s, bool front, bool back) {
    while (front && !s.empty() && s.front() == '\n') s.remove_prefix(1);
    while (back && !s.empty() && s.back() == '\n') s.remove_suffix(1);
    return s;
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      out.tpl("<|im_start|>");
      out.role(m.role);
      out.tpl("\n");
      out.msg(m.content);
      out.tpl("<|im_end|>\n");
    } else if (m.role == "assistant") {
      std::string_view content = m.content, reasoning;
      if (const size_t close = content.rfind("</think>"); close != std::string_view::npos) {
        std::string_view before = content.substr(0, content.find("</think>"));
        before = strip_newlines(before, false, true);
        if (const size_t open = before.rfind("<think>"); open != std::string_view::npos) {
          before = before.substr(open + 7);
        }
        reasoning = strip_newlines(before, true, false);
        content = strip_newlines(content.substr(close + 8), true, false);
      }
      out.tpl("<|im_start|>assistant\n");
      if (i > last_query && (i + 1 == messages.size() || !reasoning.empty())) {
        out.tpl("<think>\n");
        out.msg(strip_newlines(reasoning, true, true));
        out.tpl("\n</think>\n\n");
        out.msg(strip_newlines(content, true, false));
      } else {
        out.msg(content);
      }
      for (size_t c = 0; c < m.tool_calls.size(); ++c) {
        if (c > 0 || !content.empty()) out.tpl("\n");
        tool_call_block(out, m.tool_calls[c]);
      }
      out.tpl("<|im_end|>\n");
    } else if (m.role == "tool") {
      tool_response_block(out, messages, i);
    }
  }
}

void render_llama3(Builder& out, const std::vector<ChatMessage>& messages,
                   const std::string& knowledge, const std::string& today) {
  const auto header = [&](std::string_view role) {
    out.tpl("<|start_header_id|>");
    out.role(role);
    out.tpl("<|end_header_id|>\n\n");
  };
  Messages rest(messages);
  if (!knowledge.empty()) {
    // Llama-3.1+: the system turn is always written, with the dates before the system text.
    const auto [system, others] = split_system(messages);
    out.tpl("<|start_header_id|>system<|end_header_id|>\n\n");
    out.tpl("Cutting Knowledge Date: " + knowledge + "\nToday Date: " + today + "\n\n");
    if (system) out.msg(trim(system->content));
    out.tpl("<|eot_id|>");
    rest = others;
  }
  for (const auto& m : rest) {
    header(m.role);
    out.msg(trim(m.content));
    out.tpl("<|eot_id|>");
  }
}

// A Llama-2 turn's text: the content, with the system block in front in the first turn, as
// segments trimmed at both ends like the template's `content | trim`.
std::vector<ChatSegment> llama2_turn(const ChatMessage* system, std::string_view content) {
  std::vector<ChatSegment> parts;
  if (system) {
    parts = {{"<<SYS>>\n", false}, {system->content, true}, {"\n<</SYS>>\n\n", false}};
  }
  parts.push_back({std::string(content), true});
  constexpr std::string_view kWs = " \t\n\r\f\v";
  while (!parts.empty()) {  // trim the start
    auto& text = parts.front().text;
    text.erase(0, std::min(text.size(), text.find_first_not_of(kWs)));
    if (!text.empty()) break;
    parts.erase(parts.begin());
  }
  while (!parts.empty()) {  // trim the end
    auto& text = parts.back().text;
    const size_t last = text.find_last_not_of(kWs);
    text.resize(last == std::string::npos ? 0 : last + 1);
    if (!text.empty()) break;
    parts.pop_back();
  }
  return parts;
}

void render_llama2(Builder& out, const std::vector<ChatMessage>& messages) {
  const auto [system, turns] = split_system(messages);
  for (size_t i = 0; i < turns.size(); ++i) {
    const auto parts = llama2_turn(i == 0 ? system : nullptr, turns[i].content);
    if (turns[i].role == "assistant") {
      out.tpl(" ");
      for (const auto& p : parts) out.add(p);
      out.tpl(" </s>");
    } else {
      if (i > 0) out.tpl("<s>");  // the template's bos_token before every user turn but the first
      out.tpl("[INST] ");
      for (const auto& p : parts) out.add(p);
      out.tpl(" [/INST]");
    }
  }
}

void render_mistral(Builder& out, const std::vector<ChatMessage>& messages) {
  // v0.1/v0.2 have no system role: the system text opens the first user turn.
  const auto [system, turns] = split_system(messages);
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].role == "assistant") {
      out.msg(turns[i].content);
      out.tpl("</s>");
    } else {
      out.tpl("[INST] ");
      if (i == 0 && system) {
        out.msg(system->content);
        out.tpl("\n\n");
      }
      out.msg(turns[i].content);
      out.tpl(" [/INST]");
    }
  }
}

void render_mistral_v3(Builder& out, const std::vector<ChatMessage>& messages) {
  // v0.3 puts the system text in front of the last user message.
  const auto [system, turns] = split_system(messages);
  size_t last_user = turns.size();
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].role != "assistant") last_user = i;
  }
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].role == "assistant") {
      out.tpl(" ");
      out.msg(trim(turns[i].content));
      out.tpl("</s>");
    } else {
      out.tpl("[INST] ");
      if (i == last_user && system) {
        out.msg(system->content);
        out.tpl("\n\n");
      }
      out.msg(turns[i].content);
      out.tpl("[/INST]");
    }
  }
}

void render_phi3(Builder& out, const std::vector<ChatMessage>& messages) {
  for (const auto& m : messages) {
    out.tpl("<|");
    out.role(m.role);
    out.tpl("|>\n");
    out.msg(m.content);
    out.tpl("<|end|>\n");
  }
}

void render_gemma(Builder& out, const std::vector<ChatMessage>& messages) {
  // No system role: its text opens the first turn (as Gemma-3's template does).
  const auto [system, turns] = split_system(messages);
  for (size_t i = 0; i < turns.size(); ++i) {
    out.tpl("<start_of_turn>");
    out.role(turns[i].role == "assistant" ? std::string_view("model") : turns[i].role);
    out.tpl("\n");
    if (i == 0 && system) {
      out.msg(system->content);
      out.tpl("\n\n");
    }
    out.msg(trim(turns[i].content));
    out.tpl("<end_of_turn>\n");
  }
}

}  // namespace

std::string_view chat_template_name(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::ChatML: return "chatml";
    case ChatTemplateKind::Qwen3: return "qwen3";
    case ChatTemplateKind::Llama3: return "llama3";
    case ChatTemplateKind::Llama2: return "llama2";
    case ChatTemplateKind::Mistral: return "mistral";
    case ChatTemplateKind::MistralV3: return "mistral-v3";
    case ChatTemplateKind::Phi3: return "phi3";
    case ChatTemplateKind::Gemma: return "gemma";
    case ChatTemplateKind::Unknown: return "unknown";
  }
  return "unknown";
}

ChatTemplateKind detect_chat_template(std::string_view t) {
  for (auto kind : {ChatTemplateKind::ChatML, ChatTemplateKind::Qwen3, ChatTemplateKind::Llama3, ChatTemplateKind::Llama2,
                    ChatTemplateKind::Mistral, ChatTemplateKind::MistralV3, ChatTemplateKind::Phi3,
                    ChatTemplateKind::Gemma}) {
    if (t == chat_template_name(kind)) return kind;
  }
  // Order matters: e.g. a ChatML template may mention [INST] in a comment, not vice versa.
  if (contains(t, "<|im_start|>")) {
    // Qwen3 (and its reasoning variants) switch thinking off through `enable_thinking`.
    return contains(t, "enable_thinking") ? ChatTemplateKind::Qwen3 : ChatTemplateKind::ChatML;
  }
  if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>")) {
    return ChatTemplateKind::Llama3;
  }
  if (contains(t, "[INST]")) {
    if (contains(t, "[AVAILABLE_TOOLS]")) return ChatTemplateKind::MistralV3;
    if (contains(t, "<<SYS>>")) return ChatTemplateKind::Llama2;
    return ChatTemplateKind::Mistral;
  }
  if (contains(t, "<|assistant|>") && contains(t, "<|end|>")) return ChatTemplateKind::Phi3;
  if (contains(t, "<start_of_turn>")) return ChatTemplateKind::Gemma;
  return ChatTemplateKind::Unknown;
}

ChatTemplate::ChatTemplate(std::string_view tmpl) : kind_(detect_chat_template(tmpl)) {
  switch (kind_) {
    case ChatTemplateKind::ChatML:
      default_system_ = find_default_system(tmpl);
      if (contains(tmpl, "<tool_call>")) tool_format_ = ToolFormat::Hermes;
      break;
    case ChatTemplateKind::Qwen3:
      tool_format_ = ToolFormat::Hermes;  // <tool_call> blocks, as Qwen2.5's
      break;
    case ChatTemplateKind::Llama3:
      find_llama3_dates(tmpl, knowledge_date_, today_date_);
      break;
    case ChatTemplateKind::Unknown: {
      // Warn once per distinct template, not on every conversation turn.
      static std::mutex mu;
      static std::unordered_set<size_t> warned;
      std::lock_guard lock(mu);
      if (warned.insert(std::hash<std::string_view>{}(tmpl)).second) {
        log::warn("unrecognised chat template ({} bytes{}{}); using ChatML", tmpl.size(),
                  tmpl.empty() ? "" : ", starts: ", tmpl.substr(0, 60));
      }
      break;
    }
    default:
      break;
  }
}

std::vector<ChatSegment> ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                              bool add_generation_prompt, const std::vector<std::string>& tools) const {
  Builder out;
  switch (kind_) {
    case ChatTemplateKind::ChatML:
    case ChatTemplateKind::Unknown:
      if (tool_format_ == ToolFormat::Hermes) {
        render_hermes(out, messages, default_system_, tools);
      } else {
        render_chatml(out, messages, default_system_);
      }
      if (add_generation_prompt) out.tpl("<|im_start|>assistant\n");
      break;
    case ChatTemplateKind::Qwen3:
      render_qwen3(out, messages, tools);
      // ragd never asks for reasoning: the template's enable_thinking=false form (what
      // llama.cpp's --jinja and HF's apply_chat_template write for it), an empty think block.
      if (add_generation_prompt) out.tpl("<|im_start|>assistant\n<think>\n\n</think>\n\n");
      break;
    case ChatTemplateKind::Llama3:
      render_llama3(out, messages, knowledge_date_, today_date_);
      if (add_generation_prompt) out.tpl("<|start_header_id|>assistant<|end_header_id|>\n\n");
      break;
    case ChatTemplateKind::Llama2:
      render_llama2(out, messages);  // the prompt already ends in "[/INST]"
      break;
    case ChatTemplateKind::Mistral:
      render_mistral(out, messages);
      break;
    case ChatTemplateKind::MistralV3:
      render_mistral_v3(out, messages);
      break;
    case ChatTemplateKind::Phi3:
      render_phi3(out, messages);
      if (add_generation_prompt) out.tpl("<|assistant|>\n");
      break;
    case ChatTemplateKind::Gemma:
      render_gemma(out, messages);
      if (add_generation_prompt) out.tpl("<start_of_turn>model\n");
      break;
  }
  return out.take();
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const std::vector<std::string>& tools) const {
  std::string out;
  for (const auto& segment : render(messages, add_generation_prompt, tools)) out += segment.text;
  return out;
}

std::vector<int32_t> ChatTemplate::tokenize(const Tokenizer& tokenizer,
                                            const std::vector<ChatMessage>& messages,
                                            bool add_generation_prompt,
                                            const std::vector<std::string>& tools) const {
  const auto segments = render(messages, add_generation_prompt, tools);
  std::vector<Tokenizer::Piece> pieces;
  pieces.reserve(segments.size());
  for (const auto& s : segments) pieces.push_back({s.text, /*parse_special=*/!s.from_message});
  return tokenizer.encode_pieces(pieces, /*add_special=*/true);
}

std::string chat_template_for(const GgufFile& file) {
  std::string tmpl(file.get_string("tokenizer.chat_template", ""));
  if (!tmpl.empty()) return tmpl;
  const std::string_view arch = file.architecture();
  if (arch == "gemma" || arch == "gemma2" || arch == "gemma3") {
    return std::string(chat_template_name(ChatTemplateKind::Gemma));
  }
  if (arch == "phi3") return std::string(chat_template_name(ChatTemplateKind::Phi3));
  return tmpl;
}

std::string apply_chat_template(std::string_view template_text_or_name,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) {
  return ChatTemplate(template_text_or_name).apply(messages, add_generation_prompt);
}

std::vector<int32_t> tokenize_chat(const Tokenizer& tokenizer,
                                   std::string_view template_text_or_name,
                                   const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt) {
  return ChatTemplate(template_text_or_name).tokenize(tokenizer, messages, add_generation_prompt);
}

}  // namespace ragd::model
