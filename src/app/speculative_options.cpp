#include "app/speculative_options.h"

#include <fmt/format.h>

#include "app/model_options.h"

namespace ragd::app {

void SpeculativeOptions::add_to(CLI::App& sub) {
  sub.add_option("--draft-model", draft_model,
                 "Speculative decoding: a smaller model of the same tokenizer family (FILE or installed name) "
                 "proposes tokens that the model verifies in one pass; 'lookup' copies them from the prompt "
                 "instead (no second model). Greedy output is unchanged");
  sub.add_option("--draft-tokens", draft_tokens, "Tokens the draft model proposes per pass")
      ->check(CLI::Range(size_t{1}, engine::kMaxDraftTokens))
      ->capture_default_str();
}

std::string SpeculativeOptions::resolve() const { return resolve_model(draft_model); }

}  // namespace ragd::app
