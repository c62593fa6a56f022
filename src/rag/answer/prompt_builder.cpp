#include "rag/answer/prompt_builder.h"

#include "rag/answer/citations.h"

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

  std::string sources = "Sources:";
  auto add_source = [&](const PromptSource& s) {
    sources += "\n\n[" + std::to_string(s.number) + "] " + s.title + "\n" + s.text;
  };
  if (options.best_source_last && options.placement == SourcePlacement::BeforeQuestion) {
    std::for_each(out.sources.rbegin(), out.sources.rend(), add_source);
  } else {
    std::for_each(out.sources.begin(), out.sources.end(), add_source);
  }
  if (options.placement == SourcePlacement::System) {
    out.messages.push_back({"system", options.system_prompt + "\n\n" + sources});
    out.messages.push_back({"user", std::string(question)});
    return out;
  }
  out.messages.push_back({"system", options.system_prompt});
  if (options.worked_example) {
    out.messages.push_back({"user", std::string(kExampleQuestion)});
    out.messages.push_back({"assistant", options.example_answer});
  }
  if (out.sources.empty()) {
    out.messages.push_back({"user", std::string(question)});
  } else {
    out.messages.push_back({"user", sources + "\n\nQuestion: " + std::string(question)});
  }
  return out;
}

std::vector<PromptSource> citations(std::string_view answer, const std::vector<PromptSource>& sources) {
  std::vector<PromptSource> out;
  std::vector<bool> seen(sources.size() + 1, false);
  for (const auto& marker : citation_markers(answer)) {
    for (size_t n : marker.numbers) {
      if (n >= 1 && n <= sources.size() && !seen[n]) {
        seen[n] = true;
        out.push_back(sources[n - 1]);
      }
    }
  }
  return out;
}

}  // namespace ragd::rag
