// ragd generate: completes a prompt and prints only the generated text.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "app/commands.h"
#include "app/model_options.h"
#include "app/speculative_options.h"
#include "engine/generator.h"
#include "engine/llm.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::app {
namespace {

struct GenerateOptions {
  ModelOptions model;
  SamplingOptions sampling;
  SpeculativeOptions speculative;
  std::string prompt;
  bool prompt_from_stdin = false;
  size_t max_tokens = 256;
  bool ignore_eos = false;
  std::vector<std::string> stop;
  bool no_special = false;
};

int run_generate(GenerateOptions& o) {
  if (o.prompt_from_stdin) {
    o.prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
  }
  if (o.prompt.empty()) fail("give a prompt with --prompt TEXT (or --stdin)");
  auto llm = engine::Llm::load(o.model.resolve(), o.model.threads);
  // Like llama.cpp: BOS per the model's metadata, and special-token text in the prompt is
  // parsed as special tokens unless --no-special.
  auto prompt = llm->tokenizer->encode(o.prompt, true, !o.no_special);
  engine::Generator gen(*llm->model, *llm->tokenizer, o.model.ctx_size);
  std::unique_ptr<engine::DraftModel> draft;
  if (o.speculative.lookup()) {
    gen.set_prompt_lookup(o.speculative.draft_tokens);
  } else if (o.speculative.enabled()) {
    draft = engine::DraftModel::load(o.speculative.resolve(), *llm);
    gen.set_draft(draft->model.get(), o.speculative.draft_tokens);
  }
  engine::GenerationOptions g;
  g.max_tokens = o.max_tokens;
  g.ignore_eos = o.ignore_eos;
  g.stop = o.stop;
  g.sampling = o.sampling.params;
  gen.generate(prompt, g, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  if (o.speculative.enabled()) {
    const auto& st = gen.speculative_stats();
    log::info("speculative decoding: {} rounds, {} of {} draft tokens accepted ({:.1f} %), {:.2f} tokens per target pass",
              st.rounds, st.accepted, st.proposed, 100.0 * st.acceptance_rate(),
              st.rounds ? double(st.emitted) / double(st.rounds) : 0.0);
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* sub = app.add_subcommand("generate", "Complete a prompt with a language model");
  o->model.add_to(*sub);
  o->sampling.add_to(*sub);
  o->speculative.add_to(*sub);
  sub->add_option("-p,--prompt", o->prompt, "Prompt text");
  sub->add_flag("--stdin", o->prompt_from_stdin, "Read the prompt from standard input");
  sub->add_option("-n,--max-tokens", o->max_tokens, "Most tokens to generate")->capture_default_str();
  sub->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-generation tokens");
  sub->add_option("--stop", o->stop, "Stop string (repeatable)");
  sub->add_flag("--no-special", o->no_special, "Treat special-token text in the prompt as plain text");
  return Command{sub, [o] { return run_generate(*o); }};
});

}  // namespace
}  // namespace ragd::app
