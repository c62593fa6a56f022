// Known fields: every endpoint refuses a request field it does not implement instead of
// ignoring it, because a client that relies on a field (tools, logprobs, grammar)
// is better served by a clear 400 than by an answer that silently lacks what it asked for.
//
// A field is accepted when it is absent, null (clients serialize unset options as null),
// or named in the endpoint's list. Fields that are harmless at their no-op value
// (`logprobs: false`, `tools: []`, `tool_choice: "none"`) are accepted with that value only
// (require_value). Every refusal is ApiError(400) with `param` set to the field:
//   "'tools' is not supported by ragd yet"           (a field of the OpenAI/Ollama APIs)
//   "unknown field 'temprature' (... accepts: ...)"   (anything else: a typo, say)
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <span>
#include <string_view>

namespace ragd::server {

using FieldList = std::span<const std::string_view>;

// Throws ApiError(400) for the first non-null field of `body` named in none of `lists`.
// `where` names the endpoint or object in the message ("/v1/chat/completions").
void refuse_unknown_fields(const nlohmann::json& body, std::initializer_list<FieldList> lists,
                           std::string_view where);

// Throws ApiError(400) naming `name` when the field is present, not null, and differs from
// `accepted` (its no-op value): "'logprobs': true is not supported by ragd yet (only false)".
void require_value(const nlohmann::json& body, std::string_view name, const nlohmann::json& accepted);

// The 400 for a field ragd does not implement: "'<name>' is not supported by ragd yet".
[[noreturn]] void refuse_field(std::string_view name, std::string_view detail = "");

}  // namespace ragd::server
