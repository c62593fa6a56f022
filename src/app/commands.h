// Registry of CLI subcommands. Each cmd_*.cpp defines a `Command` that adds its options
// to a CLI11 subcommand and runs it; commands are thin and call into the layers below.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace ragd::app {

struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;
};

// Registered by a static CommandRegistrar in each command file.
using CommandFactory = std::function<Command(CLI::App&)>;
std::vector<CommandFactory>& command_factories();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandFactory f) { command_factories().push_back(std::move(f)); }
};

void register_all(CLI::App& app);
int run_selected(CLI::App& app);

}  // namespace ragd::app
