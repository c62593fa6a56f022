#include "engine/stop_matcher.h"

#include <algorithm>

namespace ragd::engine {

StopMatcher::StopMatcher(std::vector<std::string> stops, std::vector<std::string> kept) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
  dropped_count_ = stops_.size();
  for (auto& s : kept) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

std::string StopMatcher::push(std::string_view piece) {
  if (stopped_) return {};
  pending_.append(piece);
  // Earliest complete stop string wins; at one position, a dropped one (it ends more text).
  size_t first = std::string::npos, cut = std::string::npos;  // where the match starts / the text ends
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t at = pending_.find(stops_[i]);
    if (at == std::string::npos) continue;
    const size_t end = i < dropped_count_ ? at : at + stops_[i].size();
    if (first == std::string::npos || at < first || (at == first && end < cut)) {
      first = at;
      cut = end;
    }
  }
  if (cut != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, cut);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail of pending_ that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  if (!stopped_) out.swap(pending_);
  return out;
}

}  // namespace ragd::engine
