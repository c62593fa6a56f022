#include "app/commands.h"

#include "util/error.h"

namespace ragd::app {
namespace {
std::vector<Command>& registered() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace

std::vector<CommandFactory>& command_factories() {
  static std::vector<CommandFactory> factories;
  return factories;
}

void register_all(CLI::App& app) {
  for (auto& f : command_factories()) registered().push_back(f(app));
}

int run_selected(CLI::App& app) {
  for (auto& c : registered()) {
    if (c.sub->parsed()) return c.run();
  }
  (void)app;
  fail("no command given; run 'ragd --help'");
}

}  // namespace ragd::app
