#include "engine/json_constraint.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace ragd::engine {

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonSchemaGrammar> grammar, const model::Tokenizer& tokenizer)
    : grammar_(std::move(grammar)), tokenizer_(tokenizer), recognizer_(*grammar_) {}

bool JsonConstraint::valid(int32_t id, const std::bitset<256>& first, bool complete) {
  if (id < 0 || static_cast<size_t>(id) >= tokenizer_.vocab_size()) return false;
  if (tokenizer_.is_end_of_generation(id)) return complete;
  const std::string& piece = tokenizer_.token_to_piece(id);
  if (piece.empty() || !first[static_cast<uint8_t>(piece[0])]) return false;
  return recognizer_.can_feed(piece);
}

bool JsonConstraint::valid(int32_t id) { return valid(id, recognizer_.next_bytes(), recognizer_.complete()); }

void JsonConstraint::mask(std::span<float> logits, size_t want) {
  want = std::max<size_t>(want, 1);
  const auto first = recognizer_.next_bytes();
  const bool complete = recognizer_.complete();
  order_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > -std::numeric_limits<float>::infinity()) order_.emplace_back(logits[i], static_cast<int32_t>(i));
  }
  auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  // Best first in growing chunks: usually the first chunk holds enough valid tokens, and
  // only a model that insists on invalid text pays for sorting the whole vocabulary.
  kept_.clear();
  size_t sorted = 0;
  for (size_t chunk = 64; kept_.size() < want && sorted < order_.size(); chunk *= 4) {
    const size_t end = std::min(order_.size(), sorted + chunk);
    std::partial_sort(order_.begin() + static_cast<ptrdiff_t>(sorted), order_.begin() + static_cast<ptrdiff_t>(end),
                      order_.end(), better);
    for (; sorted < end && kept_.size() < want; ++sorted) {
      if (valid(order_[sorted].second, first, complete)) kept_.push_back(order_[sorted]);
    }
  }
  if (kept_.empty()) fail("no token can continue the JSON output (logit_bias bans every one that could)");
  std::ranges::fill(logits, -std::numeric_limits<float>::infinity());
  for (const auto& [logit, id] : kept_) logits[static_cast<size_t>(id)] = logit;
}

void JsonConstraint::accept(int32_t id) {
  if (id >= 0 && static_cast<size_t>(id) < tokenizer_.vocab_size() && tokenizer_.is_end_of_generation(id)) return;
  if (!recognizer_.feed(tokenizer_.token_to_piece(id))) {
    fail("token {} does not continue the JSON output", id);
  }
}

}  // namespace ragd::engine
