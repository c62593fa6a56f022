// ragd quantize IN OUT TYPE: rewrites a GGUF model with its weight matrices converted to
// TYPE, choosing per-tensor types like llama.cpp's llama-quantize (see model/quant_plan.h).
#include <fmt/format.h>

#include <cstdio>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "model/quantize_model.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct QuantizeArgs {
  std::string in;
  std::string out;
  std::string type;
  size_t threads = 0;
  bool pure = false;
  bool no_progress = false;
};

int run_quantize(const QuantizeArgs& a) {
  auto target = model::parse_quant_target(a.type);
  if (!target) fail("unknown type '{}'; choose one of: {}", a.type, model::quant_target_names());
  model::QuantizeOptions o;
  o.target = *target;
  o.pure = a.pure;
  o.threads = a.threads;
  ProgressBar bar(!a.no_progress);
  o.progress = bar.callback();
  model::QuantizeReport r;
  try {
    r = model::quantize_model(a.in, a.out, o);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  print_notes(r.notes);
  std::string types;
  for (const auto& [name, count] : r.output_types) {
    types += fmt::format("{}{} {}", types.empty() ? "" : ", ", count, name);
  }
  fmt::print("wrote {} ({}): {} tensors ({}), {} converted; {} -> {} of tensor data in {:.1f} s\n",
             a.out, target->name, r.n_tensors, types, r.n_converted, format_bytes(r.bytes_in),
             format_bytes(r.bytes_out), r.seconds);
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* sub = app.add_subcommand(
      "quantize",
      "Convert a GGUF model's weight matrices to another type (like llama-quantize)");
  sub->add_option("in", a->in, "Input GGUF model (F32/F16/BF16 or any readable type)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("out", a->out, "Output GGUF file (written atomically via OUT.part)")
      ->required();
  sub->add_option("type", a->type,
                  "Target: " + model::quant_target_names() +
                      " (q4_k = Q4_K_S, q5_k = Q5_K_S; *_m mixes as llama.cpp)")
      ->required();
  sub->add_option("-t,--threads", a->threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  sub->add_flag("--pure", a->pure,
                "Give every quantizable matrix TYPE (no llama.cpp output/attn_v/ffn_down mix)");
  sub->add_flag("--no-progress", a->no_progress, "Do not draw the progress bar on stderr");
  return Command{sub, [a] { return run_quantize(*a); }};
});

}  // namespace
}  // namespace ragd::app
