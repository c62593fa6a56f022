// ragd rm NAME...: removes installed models from $RAGD_MODEL_DIR (or ./models). Only files
// in that directory, named as `ragd models` lists them (or by a catalog alias), are removed;
// paths are refused so that a typo cannot delete an arbitrary file.
#include <fmt/format.h>

#include <filesystem>

#include "app/commands.h"
#include "app/model_options.h"
#include "engine/model_catalog.h"
#include "engine/model_store.h"
#include "util/error.h"

namespace ragd::app {
namespace {

std::string installed_path(const std::string& dir, const std::string& name) {
  if (name.find('/') != std::string::npos) {
    fail("'{}': ragd rm takes an installed model's name (see 'ragd models'), not a path", name);
  }
  if (auto path = engine::find_installed_model(dir, name)) return *path;
  if (const auto* m = engine::ModelCatalog::builtin().find(name)) {
    if (auto path = engine::find_installed_model(dir, m->name)) return *path;
  }
  std::vector<std::string> installed;
  for (const auto& m : engine::list_installed_models(dir)) installed.push_back(m.name);
  fail("model '{}' is not installed in {} (installed: {})", name, dir,
       installed.empty() ? "none" : fmt::format("{}", fmt::join(installed, ", ")));
}

int run_rm(const std::vector<std::string>& names) {
  const std::string dir = default_model_dir();
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back(installed_path(dir, name));  // all or nothing
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::remove(path, ec) || ec) fail("cannot remove {}: {}", path, ec ? ec.message() : "gone");
    fmt::print("removed {}\n", path);
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* sub = app.add_subcommand("rm", "Remove installed models (by the names 'ragd models' lists)");
  sub->add_option("name", *names, "Installed model(s) to remove")->required();
  return Command{sub, [names] { return run_rm(*names); }};
});

}  // namespace
}  // namespace ragd::app
