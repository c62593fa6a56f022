// ragd eval qa --data DIR: answer quality. The corpus is ingested (the one ingestion path,
// rag/ingest.h) into a kept store, --db DIR or a cache folder per dataset, so reruns find
// it ingested and embedded; then the first N questions are asked in file order through the
// answer service (rag/answer/), exactly as /v1/rag/query answers them, and scored
// (rag/eval/qa_eval.h). Decoding is greedy unless --temperature is given, so runs repeat.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "app/answer_setup.h"
#include "app/commands.h"
#include "app/embed_options.h"
#include "app/eval_command.h"
#include "app/ingest_progress.h"
#include "rag/eval/qa_eval.h"
#include "rag/eval/relevance_calibration.h"
#include "rag/ingest/ingest.h"
#include "util/error.h"

namespace ragd::app {
namespace {

namespace fs = std::filesystem;

struct EvalQaOptions {
  std::string data;
  size_t n = 0;
  std::string profile = "default";
  std::string mode;
  size_t top_k = rag::kAnswerSources;
  std::string db;
  ModelOptions model;
  EmbedderChoice embed;
  SamplingOptions sampling;
  std::optional<size_t> max_tokens;
  std::optional<double> min_relevance;
  std::optional<double> min_coverage;
  std::string dump;
  bool json = false;
  bool quiet = false;
  bool calibrate = false;
  std::string placement = "question";
  bool no_example = false;
  bool raw_citations = false;
  std::string system;
  std::string example_answer;
  bool best_source_last = false;
  float copy_bias = rag::kDefaultCopyBias;
  std::vector<std::string> stop;
  size_t skip = 0;
  RerankChoice rerank;
};

// $XDG_CACHE_HOME/ragd/eval-qa/NAME-EMBEDDER, else ~/.cache/..., else ./.ragd-eval-qa/...
fs::path default_db(const std::string& data, const std::string& embedder) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  fs::path base = xdg && *xdg ? fs::path(xdg) : home && *home ? fs::path(home) / ".cache" : fs::path(".ragd-cache");
  std::string name = fs::weakly_canonical(fs::path(data)).filename().string();
  return base / "ragd" / "eval-qa" / (name + "-" + (embedder.empty() ? "bm25" : embedder));
}

void ingest_corpus(const LocalAnswerer& a, const fs::path& corpus, bool quiet) {
  auto embedder = answerer_embedder(a);
  rag::IngestOptions opts;
  opts.collection = "qa";
  if (embedder) use_model_tokenizer(opts.chunker, *embedder);
  IngestProgressBar bar(!quiet);
  a.store->write([&](rag::Store& s) {
    rag::Ingestor ingestor(s, opts);
    auto stats = ingestor.ingest({corpus}, bar.callback());
    if (stats.errors) fail("{} records of {} could not be read", stats.errors, corpus.string());
    if (embedder) {
      rag::Collection c = s.require_collection("qa");
      rag::check_embedder_matches(c, *embedder);
      rag::embed_missing_chunks(s, c, *embedder, 64, bar.embed_callback());
    }
    return 0;
  });
  bar.finish();
}

void draw_progress(const rag::QaResult&, size_t done, size_t total, const std::vector<rag::QaResult>& all) {
  size_t contains = 0, cited = 0;
  for (const auto& r : all) {
    contains += r.contains;
    cited += r.citations > 0;
  }
  const int width = 30;
  const int filled = static_cast<int>(width * done / total);
  fmt::print(stderr, "\r[{:=<{}}{: <{}}] {}/{}  contains {:.2f}  cited {:.2f}", "", filled, "", width - filled, done,
             total, static_cast<double>(contains) / static_cast<double>(done),
             static_cast<double>(cited) / static_cast<double>(done));
  if (done == total || !isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
}

nlohmann::json report_json(const EvalQaOptions& o, const LocalAnswerer& a, const rag::QaReport& r) {
  nlohmann::json latency = nlohmann::json::object();
  for (const auto& s : r.latency) latency[s.stage] = {{"p50_ms", s.p50}, {"p95_ms", s.p95}};
  return {{"dataset", o.data},       {"model", a.llm},
          {"embedding_model", a.embedder}, {"profile", o.profile}, {"skip", o.skip},
          {"sources", o.top_k},        {"rerank", o.rerank.spec},
          {"questions", r.questions},  {"exact_match", r.exact_match},
          {"f1", r.f1},                {"contains_answer", r.contains},
          {"citation_rate", r.citation_rate}, {"citation_precision", r.citation_precision},
          {"hit_at_1", r.hit_at_1},    {"hit_at_4", r.hit_at_4},
          {"no_answer_rate", r.no_answer_rate}, {"length_stop_rate", r.length_stop_rate},
          {"mean_completion_tokens", r.mean_completion_tokens}, {"latency", latency}};
}

void dump_results(const std::string& file, const std::vector<rag::QaResult>& results) {
  std::ofstream out(file);
  if (!out) fail("cannot write {}", file);
  for (const auto& r : results) {
    out << nlohmann::json{{"id", r.id},           {"question", r.question}, {"answer", r.answer},
                          {"golds", r.golds},     {"f1", r.f1},             {"contains", r.contains},
                          {"citations", r.citations}, {"gold_citations", r.gold_citations},
                          {"hit_at_4", r.hit_at_4}, {"finish", engine::finish_reason_name(r.finish)},
                          {"total_ms", r.timings.total}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  }
}

int run_calibration(const EvalQaOptions& o, const rag::QaData& data, const LocalAnswerer& a,
                    const rag::RetrievalRequest& request) {
  auto c = rag::calibrate_relevance(data, o.skip, o.n, a.service->retrieval(), request);
  if (o.json) {
    const nlohmann::json gate = {{"min_relevance", c.gate.min_dense},
                                 {"min_coverage", c.gate.min_coverage},
                                 {"positives_rejected", c.gate.positives_rejected},
                                 {"negatives_rejected", c.gate.negatives_rejected}};
    fmt::print("{}\n", nlohmann::json{{"questions", c.questions}, {"positives", c.positives}, {"negatives", c.negatives},
                                      {"threshold", c.threshold}, {"positives_rejected", c.positives_rejected},
                                      {"negatives_rejected", c.negatives_rejected},
                                      {"positive_quantiles", c.positive_quantiles},
                                      {"negative_quantiles", c.negative_quantiles}, {"gate", gate}}
                           .dump(2));
    return 0;
  }
  fmt::print("questions {} (from #{}): {} with the gold paragraph retrieved, {} with other articles' chunks\n",
             c.questions, o.skip, c.positives, c.negatives);
  fmt::print("best dense score, quantiles 1/5/25/50/75/95/99 %:\n  answerable   {:.3f}\n  other only   {:.3f}\n",
             fmt::join(c.positive_quantiles, " "), fmt::join(c.negative_quantiles, " "));
  fmt::print("threshold {:.3f}: refuses {:.1f} % of answerable and {:.1f} % of unanswerable questions\n", c.threshold,
             100 * c.positives_rejected, 100 * c.negatives_rejected);
  fmt::print("with coverage (a source holding {:.0f} % of the question's content words passes): threshold {:.3f}\n"
             "  refuses {:.1f} % of answerable and {:.1f} % of unanswerable questions\n",
             100 * c.gate.min_coverage, c.gate.min_dense, 100 * c.gate.positives_rejected,
             100 * c.gate.negatives_rejected);
  return 0;
}

int run_eval_qa(const EvalQaOptions& o) {
  rag::QaData data = rag::load_qa(o.data);
  rag::AnswerOptions aopts;
  if (o.min_relevance) aopts.min_relevance = *o.min_relevance;
  if (o.min_coverage) aopts.min_coverage = *o.min_coverage;
  if (o.placement != "question" && o.placement != "system") fail("--placement must be question or system");
  aopts.prompt.placement = o.placement == "system" ? rag::SourcePlacement::System : rag::SourcePlacement::BeforeQuestion;
  aopts.prompt.worked_example = !o.no_example;
  aopts.verify_citations = !o.raw_citations;
  if (o.placement == "system") aopts.prompt.system_prompt = std::string(rag::kLegacyRagSystemPrompt);
  if (!o.system.empty()) aopts.prompt.system_prompt = o.system;
  if (!o.example_answer.empty()) aopts.prompt.example_answer = o.example_answer;
  aopts.prompt.best_source_last = o.best_source_last;
  aopts.copy_bias = o.copy_bias;
  LocalAnswerer a = [&] {
    std::string db = o.db;
    if (db.empty()) {
      const std::string emb = o.embed.no_embed ? "" : fs::path(o.embed.model.empty() ? kDefaultEmbedder : o.embed.model).stem().string();
      db = default_db(o.data, emb).string();
      fs::create_directories(db);
    }
    return open_answerer(o.model, o.embed, db, aopts, o.rerank, o.profile);
  }();
  // Progress goes to stderr and the report to stdout, so --json keeps it; --quiet silences it.
  ingest_corpus(a, data.corpus, o.quiet);

  rag::AnswerRequest req;
  req.model = a.llm;
  req.retrieval.collection = "qa";
  req.retrieval.top_k = o.top_k;
  req.retrieval.profile = o.profile;
  req.retrieval.rerank_depth = o.rerank.depth;
  req.retrieval.use_cache = false;
  if (!o.mode.empty()) req.retrieval.mode = rag::parse_search_mode(o.mode);
  req.generation.sampling = o.sampling.params;
  if (o.max_tokens) req.generation.max_tokens = *o.max_tokens;
  rag::apply_answer_defaults(req.generation, o.max_tokens.has_value(), !o.stop.empty());
  if (!o.stop.empty() && o.stop != std::vector<std::string>{"none"}) req.generation.stop = o.stop;

  if (o.calibrate) return run_calibration(o, data, a, req.retrieval);

  std::vector<rag::QaResult> all;
  auto results = rag::run_qa(data, o.skip, o.n, *a.service, req, [&](const rag::QaResult& r, size_t done, size_t total) {
    all.push_back(r);
    if (!o.quiet) draw_progress(r, done, total, all);
  });
  if (!o.dump.empty()) dump_results(o.dump, results);
  rag::QaReport r = rag::summarize_qa(results);
  if (o.json) {
    fmt::print("{}\n", report_json(o, a, r).dump(2));
    return 0;
  }
  fmt::print("dataset            {} ({} questions, model {}, embedder {})\n", o.data, r.questions, a.llm,
             a.embedder.empty() ? "none" : a.embedder);
  fmt::print("exact match        {:.3f}\ntoken F1           {:.3f}\ncontains answer    {:.3f}\n", r.exact_match, r.f1,
             r.contains);
  fmt::print("citation rate      {:.3f}\ncitation precision {:.3f}\n", r.citation_rate, r.citation_precision);
  fmt::print("hit@1              {:.3f}\nhit@4              {:.3f}\n", r.hit_at_1, r.hit_at_4);
  fmt::print("not in documents   {:.3f}\ncut by max_tokens  {:.3f}  (mean {:.1f} tokens per answer)\n", r.no_answer_rate,
             r.length_stop_rate, r.mean_completion_tokens);
  fmt::print("latency (ms)       ");
  for (const auto& s : r.latency) fmt::print("{} p50 {:.0f} p95 {:.0f}; ", s.stage, s.p50, s.p95);
  fmt::print("\n");
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<EvalQaOptions>();
  o->sampling.params.temperature = 0;
  auto* sub = eval_command(app)->add_subcommand(
      "qa", "Answer quality (exact match, F1, citations, hit@k, latency) on a QA dataset");
  sub->add_option("--data", o->data, "Folder with corpus.jsonl, answers.jsonl (and qrels/test.tsv)")->required();
  sub->add_option("--n", o->n, "Ask the first N questions in file order (0 = all)")->capture_default_str();
  sub->add_option("--profile", o->profile, "Profile: fast, default or quality (candidate counts, rerank depth, and without -m the profile's model)")->capture_default_str();
  sub->add_option("--mode", o->mode, "bm25, dense or hybrid (default: hybrid with an embedder)");
  sub->add_option("--chunks", o->top_k, "Sources retrieved per question (--top-k is the sampler's)")->capture_default_str();
  sub->add_option("--db", o->db, "Store folder to ingest into and reuse (default: a cache folder per dataset)");
  sub->add_option("--max-tokens", o->max_tokens, "Most tokens per answer (default: the service's)");
  sub->add_option("--min-relevance", o->min_relevance,
                  "Best dense score below which the answer is 'not in the documents' (-1: off)");
  sub->add_option("--min-coverage", o->min_coverage,
                  "... unless the best source holds this share of the question's content words (> 1: never)");
  sub->add_option("--placement", o->placement,
                  "Prompt layout: question (sources before the question, the default) or system (the "
                  "older layout: sources in the system message, with its older instructions)")
      ->capture_default_str();
  sub->add_flag("--no-example", o->no_example, "Leave the worked example out of the prompt");
  sub->add_flag("--raw-citations", o->raw_citations, "Keep the model's [n] markers as written (no verification)");
  sub->add_option("--system", o->system, "Replace the prompt's instructions (to compare wordings)");
  sub->add_option("--example-answer", o->example_answer, "Replace the worked example's answer (to compare styles)");
  sub->add_flag("--best-source-last", o->best_source_last,
                "List the sources from least to most relevant (source [1] right before the question)");
  sub->add_option("--copy-bias", o->copy_bias,
                  "Logit bonus for continuing a source passage the answer quotes (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 20.0f));
  sub->add_option("--stop", o->stop, "Stop strings (default: a blank line; 'none': no stop)");
  sub->add_option("--dump", o->dump, "Write each question's answer and scores to this JSONL file");
  o->rerank.add_to(sub);
  o->model.add_to(*sub);
  o->sampling.add_to(*sub);
  // Not EmbedderChoice::add_to: its --threads would clash with the model's.
  sub->add_option("--embed-model", o->embed.model, "BERT GGUF embedding model (default: the installed default)");
  sub->add_flag("--no-embed", o->embed.no_embed, "No embedding model (BM25 only)");
  sub->add_flag("--json", o->json, "Print the report as JSON (progress stays on stderr)");
  sub->add_flag("--quiet,-q", o->quiet, "No progress display");
  sub->add_flag("--calibrate", o->calibrate,
                "Instead of answering: calibrate the relevance threshold on questions --skip .. --skip+N");
  sub->add_option("--skip", o->skip, "Start at this question (0-based, file order): ask --skip .. --skip+N")
      ->capture_default_str();
  return Command{sub, [o] { return run_eval_qa(*o); }};
});

}  // namespace
}  // namespace ragd::app
