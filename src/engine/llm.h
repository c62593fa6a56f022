// Llm: everything needed to run one GGUF language model — the mapped file, its
// tokenizer, the forward pass and the thread pool it computes on.
#pragma once

#include <memory>
#include <string>

#include "kernels/thread_pool.h"
#include "model/gguf.h"
#include "model/llama_model.h"
#include "model/tokenizer.h"

namespace ragd::engine {

struct Llm {
  std::shared_ptr<const model::GgufFile> file;
  std::unique_ptr<kernels::ThreadPool> pool;
  std::unique_ptr<model::Tokenizer> tokenizer;
  std::unique_ptr<model::LlamaModel> model;

  // threads: 0 = all cores. Throws ragd::Error for missing/corrupt/unsupported files.
  static std::unique_ptr<Llm> load(const std::string& path, size_t threads = 0);
};

}  // namespace ragd::engine
