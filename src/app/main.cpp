// ragd command-line entry point. Each subcommand registers itself from its own cmd_*.cpp
// (see commands.h); main only sets up global flags, logging and error reporting.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "app/commands.h"
#include "kernels/matmul.h"
#include "pdf/poppler_pdf.h"
#include "util/config.h"
#include "util/error.h"
#include "util/log.h"

namespace {

// The first word of the command line that is not an option must name a subcommand; a
// typo gets the closest name instead of CLI11's bare "A subcommand is required".
// Returns the message, empty when the command line names a subcommand (or none at all).
std::string unknown_subcommand(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--log-level") {  // the only global option that takes a separate value
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), arg) != names.end()) return "";
    const std::string hint = ragd::Config::closest(arg, names);
    return "unknown command '" + arg + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
           " ('ragd --help' lists the commands)";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ragd: retrieval-augmented generation over your own documents, in one native binary.\n"
      "Run 'ragd COMMAND --help' for the options of a command."};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.set_version_flag("--version", "ragd 0.1.0");
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, which is reported like
  // a full disk, instead of SIGXFSZ killing the process mid-write.
  signal(SIGXFSZ, SIG_IGN);
  ragd::pdf::install_poppler_pdf();

  // Global options (--log-level) may also come after the subcommand, as in Ollama's CLI.
  app.fallthrough();
  ragd::app::register_all(app);

  if (const std::string message = unknown_subcommand(app, argc, argv); !message.empty()) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    ragd::log::init(log_level);
    // A bad RAGD_ISA fails here, naming the value, not at the first matmul of some thread.
    ragd::kernels::active_isa();
    return ragd::app::run_selected(app);
  } catch (const ragd::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 2;
  }
}
