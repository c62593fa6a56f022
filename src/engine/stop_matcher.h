// StopMatcher: finds stop strings in streamed text without ever emitting any part of a
// stop string. Text that might be the beginning of a stop string is held back until the
// next piece decides; flush() releases it when generation ends for another reason.
// Kept stops (vLLM's include_stop_str_in_output) end the text too, but stay in it: the
// output ends right after them. The earliest match of either kind wins.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ragd::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops, std::vector<std::string> kept = {});

  // Appends `piece`; returns the text that is now safe to emit. After a stop string is
  // seen, stopped() is true and the returned text ends right before it.
  std::string push(std::string_view piece);
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  size_t dropped_count_ = 0;  // stops_[0, dropped_count_) are dropped, the rest kept
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace ragd::engine
