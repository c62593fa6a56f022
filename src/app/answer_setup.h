// The answer service on the command line (`ragd ask`, `ragd eval qa`): a model registry
// holding one LLM and the embedder, a store, and rag::AnswerService over them; the same
// service the server's /v1/rag/query uses, so the CLI answers exactly as the API does.
#pragma once

#include <memory>
#include <string>

#include "app/embedder_setup.h"
#include "app/model_options.h"
#include "app/rag_options.h"
#include "engine/model_registry.h"
#include "rag/answer/answer_service.h"
#include "rag/store/store_access.h"

namespace ragd::app {

struct LocalAnswerer {
  std::unique_ptr<engine::ModelRegistry> registry;
  std::unique_ptr<rag::StoreAccess> store;
  std::unique_ptr<rag::AnswerService> service;
  std::string llm;       // registry names
  std::string embedder;  // "" when no embedding model is installed or given
  // The rerank stage (--rerank), over its own handle on the embedder; declared after the
  // registry so that it is destroyed first.
  std::unique_ptr<rag::ModelEmbedder> rerank_embedder;
  std::unique_ptr<rag::ScoringReranker> reranker;
};

// Registers the LLM (--model; else the profile's model, rag::profile_model(), when it is
// installed; else the default) and the embedder (--embed-model, else the default when
// installed), opens (creating) the store (`store`: sqlite in db_dir, or a postgres:// URI),
// and builds the service. Requests name
// `llm` as their model.
// With a reranker other than "none", retrieval reranks the profile's candidates (callers
// put rerank.depth into their requests' retrieval.rerank_depth).
LocalAnswerer open_answerer(const ModelOptions& model, const EmbedderChoice& embed, const std::string& db_dir,
                            rag::AnswerOptions options = {}, const RerankChoice& rerank = {},
                            const std::string& profile = "default", const std::string& store = "sqlite");

// The registered embedder as a rag::Embedder for ingestion; null when there is none.
std::unique_ptr<rag::ModelEmbedder> answerer_embedder(const LocalAnswerer& a);

// Prints the citations of an answer, one line each: "[n] title (id) chars a-b: quote".
void print_citations(const rag::Answer& answer);

}  // namespace ragd::app
