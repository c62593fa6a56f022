// ragd command-line entry point. Each subcommand registers itself from its own cmd_*.cpp
// (see commands.h); main only sets up global flags, logging and error reporting.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <cstdio>

#include "app/commands.h"
#include "kernels/matmul.h"
#include "pdf/poppler_pdf.h"
#include "util/error.h"
#include "util/log.h"

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

  ragd::app::register_all(app);

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
