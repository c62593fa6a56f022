#include "engine/speculative_lookup.h"

#include <algorithm>

namespace ragd::engine {

size_t lookup_draft(std::span<const int32_t> history, size_t k, std::vector<int32_t>& out, size_t max_ngram,
                    size_t min_ngram) {
  out.clear();
  const size_t len = history.size();
  min_ngram = std::max<size_t>(min_ngram, 1);
  if (k == 0 || len < min_ngram + 1) return 0;
  for (size_t n = std::min(max_ngram, len - 1); n >= min_ngram; --n) {
    const auto suffix = history.subspan(len - n);
    // Most recent first: start j with the match ending before the suffix's last token, so
    // that at least one token follows it.
    for (size_t j = len - n; j-- > 0;) {
      if (!std::equal(suffix.begin(), suffix.end(), history.begin() + j)) continue;
      const size_t from = j + n;
      const size_t take = std::min(k, len - from);
      out.assign(history.begin() + from, history.begin() + from + take);
      return take;
    }
  }
  return 0;
}

}  // namespace ragd::engine
