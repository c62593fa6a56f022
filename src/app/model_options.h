// Flags shared by the commands that run a language model (generate, chat, bench).
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
  // The model path to open: --model, else the default model, with a hint when missing.
  std::string resolve() const;
};

struct SamplingOptions {
  engine::SamplingParams params;
  void add_to(CLI::App& sub);
};

// Directory of the default models: $RAGD_MODEL_DIR, else ./models.
std::string default_model_dir();
inline constexpr const char* kDefaultLlm = "SmolLM2-135M-Instruct.Q4_1.gguf";

}  // namespace ragd::app
