// ragd bench speculative: single-stream greedy decode speed of a target model alone and with
// a draft model and/or prompt-lookup drafting (speculative decoding), back to back on the
// same prompts, with the acceptance rate. Built-in prompts: "rag" (sources, then a question that quotes them, as
// the answering path builds) and "code" (write a function); --prompt-file adds others.
// Greedy output with the draft must equal the target's alone: the "same" column says so.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/model_options.h"
#include "engine/generator.h"
#include "engine/llm.h"
#include "engine/speculative_draft.h"
#include "model/chat_template.h"
#include "util/error.h"

namespace ragd::app {
namespace {

constexpr const char* kRagPrompt =
    "Answer the question using only the sources below. Quote the sources where you can and cite them as [1], [2].\n\n"
    "[1] ragd stores documents in a SQLite database. Each document is split into chunks of about 400 tokens with an "
    "overlap of 50 tokens, and every chunk is embedded with all-MiniLM-L6-v2. The embeddings are kept in an HNSW "
    "index built with M = 16 and ef_construction = 200, which is saved next to the database and reloaded at start.\n\n"
    "[2] A search runs BM25 over the chunks' text and a vector search over their embeddings, then fuses both ranked "
    "lists with reciprocal rank fusion (k = 60). The top_k chunks of the fused list, 4 by default, become the sources "
    "of the answer. A reranker can reorder the first 20 fused results before the top_k are taken.\n\n"
    "[3] The answer prompt lists the sources in order, numbered from 1, each with its document title and its text. "
    "The model is told to answer from the sources only and to cite them by number. When no source scores above the "
    "min_score threshold, ragd answers that it does not know instead of calling the model.\n\n"
    "[4] Ingestion accepts plain text, Markdown, HTML and PDF files. PDF text is extracted with poppler. A document "
    "that is ingested again with the same content is skipped; one whose content changed replaces its old chunks, and "
    "the HNSW index marks the old vectors as deleted.\n\n"
    "Question: How does ragd choose the sources of an answer, and what happens when no source is good enough?";

constexpr const char* kCodePrompt =
    "Write a Python function `merge_intervals(intervals)` that takes a list of [start, end] pairs and returns the "
    "list of merged, non-overlapping intervals sorted by start. Include a docstring and a few doctest examples.";

struct BenchSpeculativeOptions {
  std::string model;
  std::string draft_model;
  std::vector<size_t> draft_tokens = {engine::kDefaultDraftTokens};
  size_t threads = 2;
  size_t gen_tokens = 128;
  size_t repetitions = 1;
  std::vector<std::string> prompt_files;
  bool lookup = false;  // also measure prompt-lookup drafting
  bool until_eos = false;  // stop at end-of-generation (real answers) instead of always gen_tokens
  bool json = false;
};

struct Run {
  double tokens_per_s = 0, prefill_seconds = 0;
  std::vector<int32_t> tokens;
  engine::SpeculativeStats stats;
};

// Best of `repetitions` (the machine is shared: the least disturbed run).
// draft: a model; nullptr with k > 0: prompt lookup; k == 0: the target alone.
Run measure(engine::Llm& llm, model::LlamaModel* draft, size_t k, const std::vector<int32_t>& prompt,
            const BenchSpeculativeOptions& o) {
  Run best;
  for (size_t r = 0; r < o.repetitions; ++r) {
    engine::Generator gen(*llm.model, *llm.tokenizer, prompt.size() + o.gen_tokens + 1);
    if (draft) {
      gen.set_draft(draft, k);
    } else if (k > 0) {
      gen.set_prompt_lookup(k);
    }
    engine::GenerationOptions g;
    g.max_tokens = o.gen_tokens;
    // Without --until-eos, the same number of tokens in every run; with it, the answer the
    // model would give (greedy: the same tokens with and without a drafter).
    g.ignore_eos = !o.until_eos;
    g.sampling.temperature = 0;
    const auto res = gen.generate(prompt, g);
    // Tokens after the first (sampled from the prefill) over the decode time, as tg.
    const double tps = res.decode_seconds > 0 ? double(res.tokens.size() - 1) / res.decode_seconds : 0;
    if (r == 0 || tps > best.tokens_per_s) {  // a one-token answer has no decode time
      best.tokens_per_s = tps;
      best.prefill_seconds = res.prefill_seconds;
      best.tokens = res.tokens;
      best.stats = gen.speculative_stats();
    }
  }
  return best;
}

int run(BenchSpeculativeOptions& o) {
  if (o.draft_model.empty() && !o.lookup) fail("bench speculative needs --draft-model FILE, --lookup, or both");
  const std::string target_path = o.model.empty() ? ModelOptions{}.resolve() : resolve_model(o.model);
  auto llm = engine::Llm::load(target_path, o.threads);
  std::unique_ptr<engine::DraftModel> draft;
  if (!o.draft_model.empty()) draft = engine::DraftModel::load(resolve_model(o.draft_model), *llm);
  std::vector<std::pair<std::string, model::LlamaModel*>> drafters;  // name, model (nullptr: lookup)
  if (draft) drafters.push_back({draft->path, draft->model.get()});
  if (o.lookup) drafters.push_back({"lookup", nullptr});
  const std::string tmpl(model::chat_template_for(*llm->file));
  std::vector<std::pair<std::string, std::string>> prompts = {{"rag", kRagPrompt}, {"code", kCodePrompt}};
  for (const auto& f : o.prompt_files) {
    std::ifstream in(f);
    if (!in) fail("cannot read prompt file {}", f);
    std::stringstream ss;
    ss << in.rdbuf();
    prompts.push_back({f, ss.str()});
  }
  nlohmann::json all = nlohmann::json::array();
  if (!o.json) {
    fmt::print("target {}, {} threads, greedy, {} tokens\n", target_path, llm->pool->size(), o.gen_tokens);
    fmt::print("| prompt | prompt tokens | draft | k | tg t/s alone | tg t/s with draft | speedup | acceptance | tokens/pass | same |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|---|\n");
  }
  for (const auto& [name, text] : prompts) {
    const auto prompt = model::tokenize_chat(*llm->tokenizer, tmpl, {{"user", text}}, true);
    for (const auto& [drafter, draft_model] : drafters) {
      for (size_t k : o.draft_tokens) {
        // Back to back, so both see the same machine.
        const Run plain = measure(*llm, nullptr, 0, prompt, o);
        const Run spec = measure(*llm, draft_model, k, prompt, o);
        const double speedup = plain.tokens_per_s > 0 ? spec.tokens_per_s / plain.tokens_per_s : 0;
        const double per_pass = spec.stats.rounds ? double(spec.stats.emitted) / double(spec.stats.rounds) : 0;
        const bool same = plain.tokens == spec.tokens;
        all.push_back({{"prompt", name},
                       {"prompt_tokens", prompt.size()},
                       {"draft", drafter},
                       {"draft_tokens", k},
                       {"generated_tokens", plain.tokens.size()},
                       {"tg_tokens_per_s", plain.tokens_per_s},
                       {"tg_tokens_per_s_speculative", spec.tokens_per_s},
                       {"speedup", speedup},
                       {"acceptance_rate", spec.stats.acceptance_rate()},
                       {"tokens_per_pass", per_pass},
                       {"prefill_seconds", plain.prefill_seconds},
                       {"prefill_seconds_speculative", spec.prefill_seconds},
                       {"identical", same}});
        if (o.json) {
          // Progress on stderr, as the table rows show it on stdout without --json.
          fmt::print(stderr, "bench speculative: {} prompt, draft {}, k {}: {:.2f}x\n", name, drafter, k, speedup);
        } else {
          fmt::print("| {} | {} | {} | {} | {:.1f} | {:.1f} | {:.2f}x | {:.1f} % | {:.2f} | {} |\n", name, prompt.size(),
                     drafter, k,
                     plain.tokens_per_s, spec.tokens_per_s, speedup, 100.0 * spec.stats.acceptance_rate(), per_pass,
                     same ? "yes" : "NO");
          std::fflush(stdout);
        }
      }
    }
  }
  if (o.json) fmt::print("{}\n", all.dump(2));
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchSpeculativeOptions>();
  auto* sub = bench_command(app)->add_subcommand(
      "speculative", "Single-stream greedy decode with and without a draft model, and its acceptance rate");
  sub->add_option("-m,--model", o->model, "Target model: FILE or installed name (default: the default model)");
  sub->add_option("--draft-model", o->draft_model, "Draft model of the same tokenizer family");
  sub->add_flag("--lookup", o->lookup, "Also measure prompt-lookup drafting (no draft model)");
  sub->add_option("--draft-tokens", o->draft_tokens, "Tokens proposed per pass (repeatable: one row each)")
      ->check(CLI::Range(size_t{1}, engine::kMaxDraftTokens));
  sub->add_option("-t,--threads", o->threads, "Compute threads (0 = all cores)")->capture_default_str();
  sub->add_option("-n,--gen-tokens", o->gen_tokens, "Generated tokens per run")->capture_default_str()->check(CLI::Range(2, 4096));
  sub->add_option("-r,--repetitions", o->repetitions, "Runs of each; the fastest is reported")->capture_default_str()->check(CLI::Range(1, 100));
  sub->add_option("--prompt-file", o->prompt_files, "Also measure this prompt (a user message; repeatable)");
  sub->add_flag("--until-eos", o->until_eos,
                 "Stop each generation at end-of-generation (the real answer) instead of generating all -n tokens");
  sub->add_flag("--json", o->json, "Print JSON");
  return Command{sub, [o] { return run(*o); }};
});

}  // namespace
}  // namespace ragd::app
