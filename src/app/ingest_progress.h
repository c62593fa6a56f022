// Renders rag::IngestProgress on stderr: on a terminal, one line redrawn at most ten times
// a second with a bar, documents, chunks, rate and ETA; otherwise (logs, CI, pipes) one
// line every five seconds, so captured output stays short.
#pragma once

#include "rag/ingest.h"
#include "util/timing.h"

namespace ragd::app {

class IngestProgressBar {
 public:
  explicit IngestProgressBar(bool enabled);
  rag::ProgressFn callback();
  // Draws the final state and ends the line.
  void finish();

 private:
  void update(const rag::IngestProgress& p, bool force);
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  double last_draw_ = -1;
  rag::IngestProgress last_;
  Stopwatch watch_;
};

}  // namespace ragd::app
