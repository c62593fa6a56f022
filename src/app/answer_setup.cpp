#include "app/answer_setup.h"

#include <fmt/format.h>

#include <filesystem>

#include "app/embed_options.h"
#include "util/error.h"

namespace ragd::app {

namespace fs = std::filesystem;

LocalAnswerer open_answerer(const ModelOptions& model, const EmbedderChoice& embed, const std::string& db_dir,
                            rag::AnswerOptions options, const RerankChoice& rerank, const std::string& profile,
                            const std::string& store) {
  LocalAnswerer a;
  engine::RegistryOptions ro;
  ro.threads = model.threads;
  ro.embedding = embed.service;
  ro.embedding.threads = model.threads;
  ro.scheduler.ctx_size = model.ctx_size;
  // Without --model the installed models are offered too, so that the profile can pick one.
  if (model.model.empty()) ro.model_dir = default_model_dir();
  a.registry = std::make_unique<engine::ModelRegistry>(ro);
  const std::string llm_path = model.resolve();
  if (!fs::exists(llm_path)) fail("model file {} does not exist", llm_path);
  a.llm = fs::path(llm_path).stem().string();
  a.registry->add({a.llm, llm_path, engine::ModelKind::Llm});
  if (model.model.empty()) {
    if (std::string chosen = rag::profile_model(profile, *a.registry); !chosen.empty()) a.llm = chosen;
  }
  if (!embed.no_embed) {
    std::string path = embed.model.empty() ? (fs::path(default_model_dir()) / kDefaultEmbedder).string() : embed.model;
    if (fs::exists(path)) {
      a.embedder = fs::path(path).stem().string();
      a.registry->add({a.embedder, path, engine::ModelKind::Embedder});
    } else if (!embed.model.empty()) {
      fail("embedding model file {} does not exist", path);
    }
  }
  a.store = std::make_unique<rag::StoreAccess>(db_dir, store);
  rag::ServiceDeps deps;
  deps.registry = a.registry.get();
  deps.store = a.store.get();
  if (rerank.spec != "none") a.rerank_embedder = answerer_embedder(a);
  a.reranker = rerank.make(a.rerank_embedder.get(), model.threads);  // null for "none"
  deps.reranker = a.reranker.get();
  a.service = std::make_unique<rag::AnswerService>(deps, std::move(options));
  return a;
}

std::unique_ptr<rag::ModelEmbedder> answerer_embedder(const LocalAnswerer& a) {
  if (a.embedder.empty()) return nullptr;
  return std::make_unique<rag::ModelEmbedder>(a.registry->acquire(a.embedder, engine::ModelKind::Embedder)->embedder);
}

void print_citations(const rag::Answer& answer) {
  if (answer.citations.empty()) {
    fmt::print("\n(no citations)\n");
    return;
  }
  fmt::print("\nCitations:\n");
  for (const auto& c : answer.citations) {
    fmt::print("  [{}] {} ({}), chars {}-{}: \"{}\"\n", c.number, c.title, c.external_id, c.start, c.end, c.quote);
  }
}

}  // namespace ragd::app
