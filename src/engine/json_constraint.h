// JsonConstraint: constrained decoding to JSON. Given one sequence's logits, it keeps only
// tokens whose text keeps the output a valid prefix of a document its grammar accepts
// (engine/json_recognizer.h), and it advances with every token the sampler picks.
//
// mask() visits candidates best logit first (after logit_bias and penalties, before top-k /
// top-p / temperature) and stops once it has found `want` valid ones: the sampler then
// draws among exactly the tokens it would have kept had invalid ones never existed (for
// top_k <= want). End-of-generation tokens are valid only when the document is complete;
// control tokens and tokens with no text never are. Token texts are the tokenizer's
// precomputed pieces (Tokenizer::token_to_piece), read without copying.
//
// One instance per sequence; not thread-safe (each sequence samples on one thread at a time).
#pragma once

#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "engine/json_recognizer.h"
#include "engine/json_schema.h"
#include "model/tokenizer.h"

namespace ragd::engine {

class JsonConstraint {
 public:
  // The tokenizer must outlive the constraint.
  JsonConstraint(std::shared_ptr<const JsonSchemaGrammar> grammar, const model::Tokenizer& tokenizer);

  // Sets every logit but those of the `want` best valid tokens to -inf. Throws ragd::Error
  // when no token is valid (logit_bias banned every one that could continue).
  void mask(std::span<float> logits, size_t want);
  // Advances past token `id`, which mask() left valid (an end-of-generation id changes nothing).
  void accept(int32_t id);
  // The document is complete and nothing may follow it: generation should end.
  bool done() { return recognizer_.done(); }
  bool valid(int32_t id);  // whether `id` may come next

 private:
  bool valid(int32_t id, const std::bitset<256>& first, bool complete);

  std::shared_ptr<const JsonSchemaGrammar> grammar_;
  const model::Tokenizer& tokenizer_;
  JsonRecognizer recognizer_;
  std::vector<std::pair<float, int32_t>> order_, kept_;
};

}  // namespace ragd::engine
