#include "app/bench_registry.h"

namespace ragd::app {

CLI::App* bench_command(CLI::App& app) {
  for (auto* sub : app.get_subcommands({})) {
    if (sub->get_name() == "bench") return sub;
  }
  auto* bench = app.add_subcommand("bench", "Benchmarks (run 'ragd bench --help' for the list)");
  bench->require_subcommand(1);
  return bench;
}

}  // namespace ragd::app
