// Flags shared by the commands that run a language model (generate, chat, bench), and the
// one resolver every --model/-m goes through (serve and embed too).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "engine/sampler.h"

namespace ragd::app {

struct ModelOptions {
  std::string model;  // empty: the default model in $RAGD_MODEL_DIR or ./models
  size_t threads = 0;
  size_t ctx_size = 4096;

  void add_to(CLI::App& sub);
  // The model path to open: --model through resolve_model(), else default_llm_path().
  std::string resolve() const;
};

struct SamplingOptions {
  engine::SamplingParams params;
  void add_to(CLI::App& sub);
};

// Directory of the installed models: $RAGD_MODEL_DIR, else ./models.
std::string default_model_dir();

// Resolves a --model argument to a GGUF file, trying in order: an existing file; an
// installed model's name (the file's stem in `dir`, e.g. "SmolLM2-135M-Instruct.Q4_1");
// a catalog name or alias ("default", "fast", "small", "qwen2.5-coder-0.5b") whose file
// is installed. Throws ragd::Error that says what to do: the file is missing, the catalog
// model is not installed (run 'ragd pull NAME'), or, for an unknown name, which names are
// installed and which the catalog offers.
std::string resolve_model(const std::string& arg, const std::string& dir);
inline std::string resolve_model(const std::string& arg) { return resolve_model(arg, default_model_dir()); }

// The language model used when no --model is given: the catalog's "default" model when it
// is installed in `dir`, else its "fast" model (with a warning). Throws ragd::Error with the
// command that installs them when neither is.
std::string default_llm_path(const std::string& dir);

}  // namespace ragd::app
