// TokenConstraint: what Sampler (engine/sampler.h) asks of a constrained-decoding
// constraint, and RecognizerConstraint, the one implementation: it keeps only tokens whose
// text keeps the output a valid prefix of what a byte-level recognizer accepts, and it
// advances with every token the sampler picks. Two recognizers plug in:
//   JsonConstraint  = RecognizerConstraint<JsonSchemaGrammar, JsonRecognizer>  (json_constraint.h)
//   GbnfConstraint  = RecognizerConstraint<GbnfGrammar, GbnfRecognizer>        (gbnf_constraint.h)
// A Recognizer is built from `const Grammar&` and offers feed, can_feed, complete, done,
// next_bytes and kOutputName (engine/json_recognizer.h documents them). The template keeps
// the per-candidate checks free of virtual calls; only mask/accept/done, once per step, are.
//
// mask() visits candidates best logit first (after logit_bias and penalties, before top-k /
// top-p / temperature) and stops once it has found `want` valid ones: the sampler then
// draws among exactly the tokens it would have kept had invalid ones never existed (for
// top_k <= want). End-of-generation tokens are valid only when the output is complete;
// control tokens and tokens with no text never are. Token texts are the tokenizer's
// precomputed pieces (Tokenizer::token_to_piece), read without copying.
//
// One instance per sequence; not thread-safe (each sequence samples on one thread at a time).
#pragma once

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "model/tokenizer.h"
#include "util/error.h"

namespace ragd::engine {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets every logit but those of the `want` best valid tokens to -inf. Throws ragd::Error
  // when no token is valid (logit_bias banned every one that could continue, or a hostile
  // grammar's recognizer dropped its last interpretation).
  virtual void mask(std::span<float> logits, size_t want) = 0;
  // Advances past token `id`, which mask() left valid (an end-of-generation id changes nothing).
  virtual void accept(int32_t id) = 0;
  // The output is complete and nothing may follow it: generation should end.
  virtual bool done() = 0;
};

template <class Grammar, class Recognizer>
class RecognizerConstraint final : public TokenConstraint {
 public:
  // The tokenizer must outlive the constraint.
  RecognizerConstraint(std::shared_ptr<const Grammar> grammar, const model::Tokenizer& tokenizer)
      : grammar_(std::move(grammar)), tokenizer_(tokenizer), recognizer_(*grammar_) {}

  void mask(std::span<float> logits, size_t want) override {
    want = std::max<size_t>(want, 1);
    const auto first = recognizer_.next_bytes();
    const bool complete = recognizer_.complete();
    order_.clear();
    for (size_t i = 0; i < logits.size(); ++i) {
      if (logits[i] > -std::numeric_limits<float>::infinity()) {
        order_.emplace_back(logits[i], static_cast<int32_t>(i));
      }
    }
    auto better = [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
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
    if (kept_.empty()) {
      fail("no token can continue {} (logit_bias bans every one that could, or no token fits)",
           Recognizer::kOutputName);
    }
    std::ranges::fill(logits, -std::numeric_limits<float>::infinity());
    for (const auto& [logit, id] : kept_) logits[static_cast<size_t>(id)] = logit;
  }

  void accept(int32_t id) override {
    if (id >= 0 && static_cast<size_t>(id) < tokenizer_.vocab_size() && tokenizer_.is_end_of_generation(id)) return;
    if (!recognizer_.feed(tokenizer_.token_to_piece(id))) {
      fail("token {} does not continue {}", id, Recognizer::kOutputName);
    }
  }

  bool done() override { return recognizer_.done(); }
  // Whether `id` may come next.
  bool valid(int32_t id) { return valid(id, recognizer_.next_bytes(), recognizer_.complete()); }

 private:
  bool valid(int32_t id, const std::bitset<256>& first, bool complete) {
    if (id < 0 || static_cast<size_t>(id) >= tokenizer_.vocab_size()) return false;
    if (tokenizer_.is_end_of_generation(id)) return complete;
    const std::string& piece = tokenizer_.token_to_piece(id);
    if (piece.empty() || !first[static_cast<uint8_t>(piece[0])]) return false;
    return recognizer_.can_feed(piece);
  }

  std::shared_ptr<const Grammar> grammar_;
  const model::Tokenizer& tokenizer_;
  Recognizer recognizer_;
  std::vector<std::pair<float, int32_t>> order_, kept_;
};

}  // namespace ragd::engine
