// ragd models [--available] [--json] [--path NAME]: the installed models (the GGUF files in
// $RAGD_MODEL_DIR or ./models) with their size, quantization and architecture, read from
// each file's header; --available lists the catalog that `ragd pull` installs from; --path
// prints the file a --model argument resolves to (for scripts).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/model_options.h"
#include "app/progress_bar.h"
#include "engine/model_catalog.h"
#include "engine/model_store.h"

namespace ragd::app {
namespace {

struct ModelsOptions {
  bool available = false;
  bool json = false;
  std::string path_of;
};

// The catalog aliases of an installed file ("default, qwen2.5-coder-0.5b"), or "-".
std::string aliases_of(const std::string& name) {
  for (const auto& m : engine::ModelCatalog::builtin().models()) {
    if (m.name == name) return m.aliases.empty() ? "-" : fmt::format("{}", fmt::join(m.aliases, ","));
  }
  return "-";
}

int list_installed(const std::string& dir, bool json) {
  const auto models = engine::list_installed_models(dir);
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& m : models) {
      out.push_back({{"name", m.name}, {"file", m.path}, {"bytes", m.bytes}, {"quantization", m.quantization},
                     {"architecture", m.architecture}, {"kind", m.is_embedder() ? "embedding" : "llm"},
                     {"aliases", aliases_of(m.name)}, {"error", m.error}});
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  if (models.empty()) {
    fmt::print("no models installed in {}; run 'ragd pull default' (see 'ragd models --available')\n", dir);
    return 0;
  }
  fmt::print("{:<40} {:>10}  {:<7} {:<8} {:<28} {}\n", "NAME", "SIZE", "QUANT", "ARCH", "ALIASES", "FILE");
  for (const auto& m : models) {
    fmt::print("{:<40} {:>10}  {:<7} {:<8} {:<28} {}\n", m.name, format_bytes(m.bytes),
               m.error.empty() ? m.quantization : "?", m.error.empty() ? m.architecture : "?", aliases_of(m.name),
               m.path);
    if (!m.error.empty()) fmt::print("  unreadable: {}\n", m.error);
  }
  return 0;
}

int list_available(const std::string& dir, bool json) {
  const auto& catalog = engine::ModelCatalog::builtin();
  auto out = nlohmann::json::array();
  if (!json) fmt::print("{:<40} {:>10}  {:<7} {:<28} {:<9} {}\n", "NAME", "SIZE", "QUANT", "ALIASES", "INSTALLED", "SOURCE");
  for (const auto& m : catalog.models()) {
    const bool installed = engine::find_installed_model(dir, m.name).has_value();
    const std::string aliases = m.aliases.empty() ? "-" : fmt::format("{}", fmt::join(m.aliases, ","));
    const std::string source = fmt::format("PyPI, {} wheel{}", m.parts.size(), m.parts.size() == 1 ? "" : "s");
    if (json) {
      out.push_back({{"name", m.name}, {"family", m.family}, {"quantization", m.quantization}, {"aliases", m.aliases},
                     {"bytes", m.bytes}, {"sha256", m.sha256}, {"installed", installed},
                     {"fetched_by_default", m.fetch_by_default}, {"parts", m.parts.size()}, {"hf_url", m.hf_url}});
    } else {
      fmt::print("{:<40} {:>10}  {:<7} {:<28} {:<9} {}\n", m.name, format_bytes(m.bytes), m.quantization, aliases,
                 installed ? "yes" : "no", source);
    }
  }
  if (json) fmt::print("{}\n", out.dump(2));
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto opts = std::make_shared<ModelsOptions>();
  auto* sub = app.add_subcommand("models", "List the installed models (name, size, quantization, architecture)");
  sub->footer("Models live in $RAGD_MODEL_DIR (default ./models). Every --model/-m takes a file or one of these\n"
              "names; 'ragd pull NAME' installs from the catalog, 'ragd rm NAME' removes.");
  sub->add_flag("--available", opts->available, "List the catalog 'ragd pull' installs from instead");
  sub->add_flag("--json", opts->json, "Print JSON");
  sub->add_option("--path", opts->path_of, "Print the file that --model NAME resolves to")->type_name("NAME");
  return Command{sub, [opts] {
                   const std::string dir = default_model_dir();
                   if (!opts->path_of.empty()) {
                     fmt::print("{}\n", resolve_model(opts->path_of, dir));
                     return 0;
                   }
                   return opts->available ? list_available(dir, opts->json) : list_installed(dir, opts->json);
                 }};
});

}  // namespace
}  // namespace ragd::app
