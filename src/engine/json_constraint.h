// JsonConstraint: constrained decoding to JSON. Given one sequence's logits, it keeps only
// tokens whose text keeps the output a valid prefix of a document its grammar accepts
// (engine/json_recognizer.h), and it advances with every token the sampler picks; the
// masking policy is RecognizerConstraint's (engine/token_constraint.h).
#pragma once

#include "engine/json_recognizer.h"
#include "engine/json_schema.h"
#include "engine/token_constraint.h"

namespace ragd::engine {

using JsonConstraint = RecognizerConstraint<JsonSchemaGrammar, JsonRecognizer>;

}  // namespace ragd::engine
