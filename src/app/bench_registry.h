// `ragd bench` is a group of benchmarks (inference, rag, throughput, ...). Each lives in
// its own cmd_bench_*.cpp and adds itself as a subcommand of the shared "bench" command
// through bench_command().
#pragma once

#include <CLI/CLI.hpp>

namespace ragd::app {

// The "bench" subcommand of `app`, created on first use.
CLI::App* bench_command(CLI::App& app);

}  // namespace ragd::app
