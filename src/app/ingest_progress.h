// Renders rag::IngestProgress on stderr: on a terminal, one line redrawn at most ten times
// a second with a bar, documents, chunks, rate and ETA; otherwise (logs, CI, pipes) one
// line every five seconds, so captured output stays short.
#pragma once

#include "rag/ingest/embed_chunks.h"
#include "rag/ingest/ingest.h"
#include "util/timing.h"

namespace ragd::app {

class IngestProgressBar {
 public:
  explicit IngestProgressBar(bool enabled);
  rag::ProgressFn callback();
  // The embedding phase that follows ingestion: same line, counting embedded chunks.
  rag::EmbedProgressFn embed_callback();
  // Draws the final state and ends the line.
  void finish();

 private:
  void update(const rag::IngestProgress& p, bool force);
  void update_embed(size_t done, size_t total);
  void draw(double frac, const std::string& line);
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  double last_draw_ = -1;
  rag::IngestProgress last_;
  Stopwatch watch_;
  Stopwatch embed_watch_;
  bool embedding_ = false;  // the last update was of the embedding phase
  size_t embed_done_ = 0, embed_total_ = 0;
};

}  // namespace ragd::app
