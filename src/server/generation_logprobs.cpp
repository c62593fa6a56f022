#include "server/generation_logprobs.h"

#include <cmath>

namespace ragd::server {
namespace {

using nlohmann::json;

// OpenAI writes the log of zero probability as -9999.0; JSON has no -inf.
double json_logprob(float logprob) { return std::isfinite(logprob) ? static_cast<double>(logprob) : -9999.0; }

json byte_values(const std::string& piece) {
  json bytes = json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return bytes;
}

json chat_entry(const model::Tokenizer& tokenizer, int32_t id, float logprob) {
  const std::string& piece = tokenizer.token_to_piece(id);
  return {{"token", piece}, {"logprob", json_logprob(logprob)}, {"bytes", byte_values(piece)}};
}

}  // namespace

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

json chat_logprobs_content(const model::Tokenizer& tokenizer, const std::vector<engine::TokenLogprobs>& tokens) {
  json content = json::array();
  for (const auto& t : tokens) {
    json entry = chat_entry(tokenizer, t.id, t.logprob);
    json top = json::array();
    for (const auto& alt : t.top) top.push_back(chat_entry(tokenizer, alt.id, alt.logprob));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return content;
}

json completion_logprobs(const model::Tokenizer& tokenizer, const std::vector<engine::TokenLogprobs>& tokens,
                         size_t& offset) {
  json names = json::array(), logprobs = json::array(), tops = json::array(), offsets = json::array();
  for (const auto& t : tokens) {
    const std::string& piece = tokenizer.token_to_piece(t.id);
    names.push_back(piece);
    logprobs.push_back(json_logprob(t.logprob));
    // Alternatives as {token: logprob}; two ids with one piece keep the more likely (first).
    json top = json::object();
    for (const auto& alt : t.top) {
      const std::string& text = tokenizer.token_to_piece(alt.id);
      if (!top.contains(text)) top[text] = json_logprob(alt.logprob);
    }
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += utf8_length(piece);
  }
  return {{"tokens", std::move(names)},
          {"token_logprobs", std::move(logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

}  // namespace ragd::server
