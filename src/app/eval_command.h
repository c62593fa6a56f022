// `ragd eval`: the parent of the evaluation subcommands (beir in cmd_eval.cpp, qa in
// cmd_eval_qa.cpp). Each registrar asks for it here, so the first one creates it whatever
// order the registrars run in.
#pragma once

#include <CLI/CLI.hpp>

namespace ragd::app {

inline CLI::App* eval_command(CLI::App& app) {
  auto found = app.get_subcommands([](CLI::App* sub) { return sub->get_name() == "eval"; });
  if (!found.empty()) return found.front();
  auto* eval = app.add_subcommand("eval", "Evaluate retrieval and answer quality");
  eval->require_subcommand(1);
  return eval;
}

}  // namespace ragd::app
