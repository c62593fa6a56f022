// The installed models: the GGUF files in a model directory ($RAGD_MODEL_DIR, ./models),
// each known by its file's stem ("SmolLM2-135M-Instruct.Q4_1" for
// SmolLM2-135M-Instruct.Q4_1.gguf). `ragd models`, `ragd pull`/`rm`, the --model resolver and
// the server's registry all see the same set through these functions.
//
// Reading a file's description maps it and parses only the header (metadata and tensor
// table), so listing a directory of large models is cheap. A file whose header does not
// parse is still listed, with the reason in `error`, so a user sees and can remove it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"

namespace ragd::engine {

struct InstalledModel {
  std::string name;          // file stem
  std::string path;          // dir / file name
  uint64_t bytes = 0;        // file size
  std::string architecture;  // general.architecture, e.g. "qwen2", "llama", "bert"
  std::string quantization;  // general.file_type's name ("q4_k_m"), else main_weight_type()
  std::string error;         // why the header could not be read; empty when it could

  // BERT files are text embedders; every other architecture is a language model.
  bool is_embedder() const { return architecture == "bert"; }
};

// Describes one GGUF file (never throws for a bad header: see `error`).
InstalledModel describe_model_file(const std::string& path);

// Every *.gguf file directly in `dir`, sorted by name; empty when `dir` does not exist.
std::vector<InstalledModel> list_installed_models(const std::string& dir);

// The path of the installed model called `name` (the file's stem, or its file name with
// .gguf), or nullopt. Exact match first, then case-insensitive when that is unambiguous.
std::optional<std::string> find_installed_model(const std::string& dir, std::string_view name);

// The weight type holding most of the file's matrix elements, e.g. "q4_1". Norms and
// biases (1-D) are f32 in every file and would only blur the answer, so they are skipped.
std::string main_weight_type(const model::GgufFile& file);

// What a file is quantized as, as users name it: general.file_type's llama.cpp name
// ("q4_k_m": a mixed file's own label says more than any one tensor type), else
// main_weight_type(). ragd models, /v1/models and the benchmarks all show this one.
std::string quantization_name(const model::GgufFile& file);

}  // namespace ragd::engine
