#include "engine/llm.h"

namespace ragd::engine {

std::unique_ptr<Llm> Llm::load(const std::string& path, size_t threads) {
  auto llm = std::make_unique<Llm>();
  llm->file = model::GgufFile::open(path);
  llm->pool = std::make_unique<kernels::ThreadPool>(threads);
  llm->tokenizer = model::Tokenizer::from_gguf(*llm->file);
  llm->model = std::make_unique<model::LlamaModel>(llm->file, *llm->pool);
  return llm;
}

}  // namespace ragd::engine
