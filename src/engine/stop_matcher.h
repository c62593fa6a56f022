// StopMatcher: finds stop strings in streamed text without ever emitting any part of a
// stop string. Text that might be the beginning of a stop string is held back until the
// next piece decides; flush() releases it when generation ends for another reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ragd::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends `piece`; returns the text that is now safe to emit. After a stop string is
  // seen, stopped() is true and the returned text ends right before it.
  std::string push(std::string_view piece);
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace ragd::engine
