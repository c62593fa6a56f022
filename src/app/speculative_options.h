// Flags of speculative decoding, shared by generate, bench speculative and serve:
// --draft-model (a smaller model of the same tokenizer family, or "lookup" for prompt-lookup
// drafting without a model; off when empty) and --draft-tokens (tokens proposed per target
// pass).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

#include "engine/speculative_draft.h"

namespace ragd::app {

// The --draft-model value that selects prompt lookup instead of a model file.
inline constexpr std::string_view kPromptLookupDrafter = "lookup";

struct SpeculativeOptions {
  std::string draft_model;  // FILE or installed model name; empty: no speculation
  size_t draft_tokens = engine::kDefaultDraftTokens;

  void add_to(CLI::App& sub);
  bool enabled() const { return !draft_model.empty(); }
  bool lookup() const { return draft_model == kPromptLookupDrafter; }  // engine/speculative_lookup.h
  // The draft's GGUF path (resolve_model); only when enabled() and not lookup().
  std::string resolve() const;
};

}  // namespace ragd::app
