// The OpenAI shapes of per-token log-probabilities (engine/sampler.h: the model's raw
// distribution, natural log), for chat and text completions, whole or one chunk at a time.
//
// A token is shown as its decoded piece (Tokenizer::token_to_piece). A piece that is not
// valid UTF-8 on its own (one byte of a multi-byte character) is still given whole in
// `bytes`; the JSON writer replaces the invalid bytes of `token` with U+FFFD. A logprob of
// -inf (a token the model rules out) is written as -9999.0, as OpenAI does: JSON has no
// infinity.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "engine/sampler.h"
#include "model/tokenizer.h"

namespace ragd::server {

// Chat: the `choices[i].logprobs.content` array, one
// {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]} per token.
nlohmann::json chat_logprobs_content(const model::Tokenizer& tokenizer, const std::vector<engine::TokenLogprobs>& tokens);

// Completions: `choices[i].logprobs` = {tokens, token_logprobs, top_logprobs (one
// {token: logprob} object per token), text_offset}. `text_offset` holds each token's
// position in the choice's text in characters (Unicode code points, as Python indexes a
// str), counted from `offset`, which is advanced past these tokens (a stream's chunks
// continue where the previous one ended; start at the echoed prompt's length).
nlohmann::json completion_logprobs(const model::Tokenizer& tokenizer, const std::vector<engine::TokenLogprobs>& tokens,
                                   size_t& offset);

// Code points in UTF-8 text (bytes that do not continue a sequence).
size_t utf8_length(std::string_view text);

}  // namespace ragd::server
