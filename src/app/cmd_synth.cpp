// ragd synth --arch NAME --type TYPE --vocab GGUF OUT: writes a random-weight model with a
// real architecture's shapes and a real tokenizer, for speed tests (see model/synth_model.h).
#include <fmt/format.h>

#include <optional>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct SynthArgs {
  std::string arch;
  std::string type;
  std::string vocab;
  std::string out;
  uint64_t seed = 0;
  uint32_t layers = 0;  // 0: the architecture's own
  std::optional<float> attn_softcap;   // unset: the architecture's own
  std::optional<float> final_softcap;  // (checked by model::synth_model)
  size_t threads = 0;
  bool pure = false;
  bool no_progress = false;
};

int run_synth(const SynthArgs& a) {
  if (!model::find_synth_arch(a.arch)) {
    fail("unknown architecture '{}'; choose one of: {}", a.arch, model::synth_arch_names());
  }
  auto target = model::parse_quant_target(a.type);
  if (!target) fail("unknown type '{}'; choose one of: {}", a.type, model::quant_target_names());
  model::SynthOptions o;
  o.arch = a.arch;
  o.target = *target;
  o.pure = a.pure;
  o.vocab_path = a.vocab;
  o.seed = a.seed;
  if (a.layers > 0) o.layers = a.layers;
  o.attn_softcap = a.attn_softcap;
  o.final_softcap = a.final_softcap;
  o.threads = a.threads;
  ProgressBar bar(!a.no_progress);
  o.progress = bar.callback();
  model::SynthReport r;
  try {
    r = model::synth_model(a.out, o);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  print_notes(r.notes);
  fmt::print("wrote {} ({} {}, {} layers, vocab {}): {} tensors, {:.1f} M parameters, {} in "
             "{:.1f} s\n",
             a.out, a.arch, target->name, r.n_layer, r.n_vocab, r.n_tensors, r.n_params / 1e6,
             format_bytes(r.bytes_out), r.seconds);
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* sub = app.add_subcommand(
      "synth", "Write a random-weight GGUF with a real model's shapes (for speed tests)");
  sub->add_option("--arch", a->arch, "Architecture: " + model::synth_arch_names())->required();
  sub->add_option("--type", a->type, "Tensor type, as for 'ragd quantize'")->required();
  sub->add_option("--vocab", a->vocab, "GGUF whose tokenizer.* metadata to copy")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("out", a->out, "Output GGUF file")->required();
  sub->add_option("--seed", a->seed, "Random seed (same seed, same file)")->capture_default_str();
  sub->add_option("--layers", a->layers, "Number of blocks (default: the architecture's)")
      ->check(CLI::Range(1u, 1024u));
  sub->add_option("--attn-softcap", a->attn_softcap,
                  "Attention logit soft-cap instead of the architecture's (gemma-2-2b)");
  sub->add_option("--final-softcap", a->final_softcap,
                  "Final logit soft-cap instead of the architecture's (gemma-2-2b)");
  sub->add_option("-t,--threads", a->threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  sub->add_flag("--pure", a->pure, "Give every quantizable matrix TYPE (no llama.cpp mix)");
  sub->add_flag("--no-progress", a->no_progress, "Do not draw the progress bar on stderr");
  return Command{sub, [a] { return run_synth(*a); }};
});

}  // namespace
}  // namespace ragd::app
