#include "rag/prompt_builder.h"

#include <algorithm>
#include <cctype>

namespace ragd::rag {
namespace {

std::string source_heading(const SearchHit& hit) {
  std::string title = hit.title.empty() ? hit.external_id : hit.title;
  if (!hit.heading.empty() && hit.heading != title) title += " — " + hit.heading;
  return title;
}

// Offsets just past each word of `text` (a word ends where whitespace starts).
std::vector<size_t> word_ends(std::string_view text) {
  std::vector<size_t> ends;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool space = std::isspace(static_cast<unsigned char>(text[i]));
    const bool next_space = i + 1 == text.size() || std::isspace(static_cast<unsigned char>(text[i + 1]));
    if (!space && next_space) ends.push_back(i + 1);
  }
  return ends;
}

// The longest prefix of `text` ending at a word boundary that counts <= budget tokens
// (binary search: counts grow with the prefix), or "" if not even one word fits.
std::string_view fit_prefix(std::string_view text, size_t budget, const TokenCounter& count) {
  const auto ends = word_ends(text);
  size_t lo = 0, hi = ends.size();  // answer: the number of words, in [lo, hi]
  while (lo < hi) {
    const size_t mid = (lo + hi + 1) / 2;
    if (count(text.substr(0, ends[mid - 1])) <= budget) lo = mid; else hi = mid - 1;
  }
  return lo == 0 ? std::string_view() : text.substr(0, ends[lo - 1]);
}

}  // namespace

RagPrompt build_rag_prompt(std::string_view question, const std::vector<SearchHit>& hits,
                           const TokenCounter& count_tokens, const PromptOptions& options) {
  RagPrompt out;
  size_t used = 0;
  for (size_t i = 0; i < hits.size(); ++i) {
    const SearchHit& hit = hits[i];
    PromptSource src{out.sources.size() + 1, hit.chunk_id, hit.document_id, hit.external_id,
                     source_heading(hit), hit.text, hit.score, false};
    const size_t budget = options.max_source_tokens - used;
    size_t tokens = count_tokens(src.text);
    if (tokens > budget) {
      if (budget < options.min_source_tokens) {
        out.dropped = hits.size() - i;
        break;
      }
      std::string_view cut = fit_prefix(hit.text, budget, count_tokens);
      tokens = cut.empty() ? 0 : count_tokens(cut);
      if (cut.empty() || tokens < options.min_source_tokens) {
        out.dropped = hits.size() - i;
        break;
      }
      src.text = std::string(cut) + " …";
      src.truncated = true;
      out.dropped = hits.size() - i - 1;
      used += tokens;
      out.sources.push_back(std::move(src));
      break;
    }
    used += tokens;
    out.sources.push_back(std::move(src));
  }
  out.source_tokens = used;

  std::string system = options.system_prompt;
  system += "\n\nSources:";
  for (const auto& s : out.sources) {
    system += "\n\n[" + std::to_string(s.number) + "] " + s.title + "\n" + s.text;
  }
  out.messages.push_back({"system", std::move(system)});
  out.messages.push_back({"user", std::string(question)});
  return out;
}

std::vector<PromptSource> citations(std::string_view answer, const std::vector<PromptSource>& sources) {
  std::vector<PromptSource> out;
  std::vector<bool> seen(sources.size() + 1, false);
  auto cite = [&](size_t n) {
    if (n >= 1 && n <= sources.size() && !seen[n]) {
      seen[n] = true;
      out.push_back(sources[n - 1]);
    }
  };
  // Inside "[...]": numbers separated by commas/spaces; anything else voids the bracket
  // (e.g. "[a1]" or "[1.5]" are not citations).
  for (size_t open = answer.find('['); open != std::string_view::npos;
       open = answer.find('[', open + 1)) {
    const size_t close = answer.find(']', open + 1);
    if (close == std::string_view::npos) break;
    std::string_view inner = answer.substr(open + 1, close - open - 1);
    std::vector<size_t> numbers;
    bool ok = !inner.empty();
    size_t value = 0;
    bool in_number = false;
    for (char c : inner) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        value = std::min<size_t>(value * 10 + static_cast<size_t>(c - '0'), 1u << 20);
        in_number = true;
      } else if (c == ',' || c == ' ') {
        if (in_number) numbers.push_back(value);
        value = 0;
        in_number = false;
      } else {
        ok = false;
        break;
      }
    }
    if (in_number) numbers.push_back(value);
    if (!ok) continue;
    for (size_t n : numbers) cite(n);
  }
  return out;
}

}  // namespace ragd::rag
