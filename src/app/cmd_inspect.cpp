// ragd inspect FILE: prints a GGUF file's metadata and tensor table.
#include <fmt/format.h>

#include "app/commands.h"
#include "model/gguf.h"

namespace ragd::app {
namespace {

struct InspectOptions {
  std::string path;
  size_t max_items = 8;
  bool no_tensors = false;
};

int run_inspect(const InspectOptions& o) {
  auto f = model::GgufFile::open(o.path);
  fmt::print("file: {}\nversion: {}\nalignment: {}\nsize: {} bytes\n", f->path(), f->version(),
             f->alignment(), f->file_size());
  fmt::print("\nmetadata ({} keys):\n", f->metadata().size());
  for (const auto& [key, value] : f->metadata()) {
    fmt::print("  {} = {}\n", key, model::gguf_value_to_string(value, o.max_items));
  }
  uint64_t total_bytes = 0, total_elems = 0;
  for (const auto& t : f->tensors()) {
    total_bytes += t.n_bytes;
    total_elems += t.n_elements;
  }
  fmt::print("\ntensors ({}, {} parameters, {:.1f} MiB):\n", f->tensors().size(), total_elems,
             total_bytes / 1048576.0);
  if (o.no_tensors) return 0;
  for (const auto& t : f->tensors()) {
    std::string dims;
    for (size_t i = 0; i < t.dims.size(); ++i) dims += fmt::format("{}{}", i ? " x " : "", t.dims[i]);
    fmt::print("  {:<40} {:<6} [{}] {} bytes @ {}\n", t.name, kernels::type_name(t.type), dims,
               t.n_bytes, t.offset);
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensor table");
  sub->add_option("file", opts->path, "GGUF file")->required();
  sub->add_option("--max-items", opts->max_items, "Array items shown per metadata value")
      ->capture_default_str();
  sub->add_flag("--no-tensors", opts->no_tensors, "Only print metadata");
  return Command{sub, [opts] { return run_inspect(*opts); }};
});

}  // namespace
}  // namespace ragd::app
