// ragd convert SRC_DIR OUT.gguf [--type f32|f16|bf16|q8_0]: turns a Hugging Face /
// sentence-transformers BERT checkpoint directory (what embedding packages ship, e.g.
// all-MiniLM-L6-v2) into a GGUF file in llama.cpp's BERT layout (see model/convert_bert.h).
#include <fmt/format.h>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "kernels/tensor_type.h"
#include "model/convert_bert.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct ConvertArgs {
  std::string src;
  std::string out;
  std::string type = "f32";
  std::string name;
  size_t threads = 0;
  bool no_progress = false;
};

int run_convert(const ConvertArgs& a) {
  auto type = kernels::parse_type(a.type);
  if (!type) fail("unknown type '{}'; choose f32, f16, bf16 or q8_0", a.type);
  model::ConvertBertOptions o;
  o.type = *type;
  o.name = a.name;
  o.threads = a.threads;
  model::bert_file_type(o.type);  // rejects unsupported types before any work
  ProgressBar bar(!a.no_progress);
  o.progress = bar.callback();
  model::ConvertBertReport r;
  try {
    r = model::convert_bert(a.src, a.out, o);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  print_notes(r.notes);
  fmt::print("wrote {} ({}, {}): BERT '{}', {} layers, {} dims, {} tokens, {} pooling, {} "
             "tensors, {} of tensor data in {:.1f} s\n",
             a.out, kernels::type_name(o.type), "llama.cpp layout", r.name, r.n_layer, r.n_embd,
             r.n_vocab, r.pooling, r.n_tensors, format_bytes(r.bytes_out), r.seconds);
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  auto* sub = app.add_subcommand(
      "convert", "Convert a Hugging Face BERT embedding model directory to GGUF");
  sub->add_option("src", a->src,
                  "Checkpoint directory: config.json, model.safetensors, tokenizer.json or "
                  "vocab.txt, optional modules.json + pooling config")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("out", a->out, "Output GGUF file (written atomically via OUT.part)")
      ->required();
  sub->add_option("--type", a->type, "Weight matrix type: f32, f16, bf16 or q8_0")
      ->capture_default_str();
  sub->add_option("--name", a->name, "general.name (default: the directory's name)");
  sub->add_option("-t,--threads", a->threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  sub->add_flag("--no-progress", a->no_progress, "Do not draw the progress bar on stderr");
  return Command{sub, [a] { return run_convert(*a); }};
});

}  // namespace
}  // namespace ragd::app
