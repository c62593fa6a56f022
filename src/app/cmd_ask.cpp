// ragd ask QUESTION: answers from the documents of a collection through the answer service
// (rag/answer/), the same path as /v1/rag/query: retrieval, the RAG prompt, generation
// streamed to stdout, then the citations with the cited spans.
#include <fmt/format.h>

#include <cstdio>

#include "app/answer_setup.h"
#include "app/commands.h"
#include "app/embed_options.h"
#include "app/rag_options.h"
#include "rag/answer/service_error.h"
#include "rag/store/open_store.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct AskOptions {
  std::string question;
  StoreLocation where;
  std::string profile = "default";
  std::string mode;
  size_t top_k = rag::kAnswerSources;
  ModelOptions model;
  SamplingOptions sampling;
  EmbedderChoice embed;
  std::optional<size_t> max_tokens;
  bool show_sources = false;
  RerankChoice rerank;
};

int run_ask(const AskOptions& o) {
  if (!rag::store_exists(o.where.store, o.where.db_dir)) fail("{}", missing_store_message(o.where));
  LocalAnswerer a = open_answerer(o.model, o.embed, o.where.db_dir, {}, o.rerank, o.profile, o.where.store);
  rag::AnswerRequest req;
  req.model = a.llm;
  req.retrieval.query = o.question;
  req.retrieval.collection = o.where.collection;
  req.retrieval.top_k = o.top_k;
  req.retrieval.profile = o.profile;
  req.retrieval.rerank_depth = o.rerank.depth;
  if (!o.mode.empty()) req.retrieval.mode = rag::parse_search_mode(o.mode);
  req.generation.sampling = o.sampling.params;
  if (o.max_tokens) req.generation.max_tokens = *o.max_tokens;
  rag::apply_answer_defaults(req.generation, o.max_tokens.has_value(), false);
  try {
    rag::AnswerPlan plan = a.service->plan(std::move(req));
    if (o.show_sources) {
      for (const auto& s : plan.prompt.sources) {
        fmt::print(stderr, "[{}] {} ({}) score {:.3f}\n", s.number, s.title, s.external_id, s.score);
      }
    }
    rag::Answer answer = a.service->answer(plan, [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    print_citations(answer);
  } catch (const rag::ServiceError& e) {
    // Service errors are the user's to fix (unknown collection, wrong mode): a clear message.
    fail("{}", e.what());
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<AskOptions>();
  o->sampling.params.temperature = 0;
  auto* sub = app.add_subcommand("ask", "Answer a question from your documents, with citations");
  sub->add_option("question", o->question, "The question")->required();
  add_store_options(sub, o->where);
  sub->add_option("--profile", o->profile, "Profile: fast, default or quality (candidate counts, rerank depth, and without -m the profile's model)")->capture_default_str();
  sub->add_option("--mode", o->mode, "bm25, dense or hybrid (default: hybrid when the collection has vectors)");
  sub->add_option("--chunks", o->top_k, "Sources given to the model (--top-k is the sampler's)")->capture_default_str();
  sub->add_option("-n,--max-tokens", o->max_tokens, "Most tokens in the answer (default: the service's)");
  sub->add_flag("--sources", o->show_sources, "Print the retrieved sources on stderr first");
  sub->add_option("--embed-model", o->embed.model, "BERT GGUF embedding model the collection was embedded with");
  o->rerank.add_to(sub);
  o->model.add_to(*sub);
  o->sampling.add_to(*sub);
  return Command{sub, [o] { return run_ask(*o); }};
});

}  // namespace
}  // namespace ragd::app
