// GbnfConstraint: constrained decoding to a GBNF grammar (llama-server's `grammar` field).
// Given one sequence's logits, it keeps only tokens whose text keeps the output a valid
// prefix of a sentence of the grammar (engine/gbnf_recognizer.h), and it advances with
// every token the sampler picks; the masking policy is RecognizerConstraint's
// (engine/token_constraint.h), the same as JsonConstraint's.
#pragma once

#include "engine/gbnf_grammar.h"
#include "engine/gbnf_recognizer.h"
#include "engine/token_constraint.h"

namespace ragd::engine {

using GbnfConstraint = RecognizerConstraint<GbnfGrammar, GbnfRecognizer>;

}  // namespace ragd::engine
