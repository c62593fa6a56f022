// ProgressBar: renders model::WriteProgress on stderr for long-running file writers
// (`ragd quantize`, `ragd synth`). On a terminal it redraws one line at most ten times a
// second; otherwise (logs, CI) it prints a line per 10% so the output stays short.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/tensor_convert.h"

namespace ragd::app {

class ProgressBar {
 public:
  // `unit` names what WriteProgress::tensor_index counts ("tensor", or "part" for a pull).
  explicit ProgressBar(bool enabled, std::string unit = "tensor");
  // A callback for model::ProgressTracker; valid while this object lives.
  model::ProgressFn callback();
  // Ends the line (terminal mode) so that later output starts on a fresh line.
  void finish();

 private:
  void update(const model::WriteProgress& p);

  bool enabled_;
  std::string unit_;
  bool tty_;
  bool drawn_ = false;
  double last_draw_ = -1;
  int last_decile_ = -1;
};

// "1.5 GiB", "12.0 MiB", "512 B".
std::string format_bytes(uint64_t n);

// Prints notes to stderr as "note: ...", the first `max_shown` of them, then a count.
void print_notes(const std::vector<std::string>& notes, size_t max_shown = 12);

}  // namespace ragd::app
