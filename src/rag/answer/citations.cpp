#include "rag/answer/citations.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "rag/answer/content_words.h"

namespace ragd::rag {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// The answer text that a marker at `pos` vouches for: its sentence, or the previous one
// when the marker stands alone after a full stop ("… in 1821. [2]").
std::string_view citing_sentence(std::string_view answer, size_t pos,
                                 const std::vector<std::pair<size_t, size_t>>& spans) {
  for (size_t i = 0; i < spans.size(); ++i) {
    if (pos < spans[i].first || pos >= spans[i].second) continue;
    std::string_view s = answer.substr(spans[i].first, spans[i].second - spans[i].first);
    if (content_words(s).empty() && i > 0) {
      return answer.substr(spans[i - 1].first, spans[i].second - spans[i - 1].first);
    }
    return s;
  }
  return answer;
}

}  // namespace

std::vector<CitationMarker> citation_markers(std::string_view answer) {
  std::vector<CitationMarker> out;
  // Inside "[...]": numbers separated by commas/spaces; anything else voids the bracket
  // (e.g. "[a1]" or "[1.5]" are not citations).
  for (size_t open = answer.find('['); open != std::string_view::npos; open = answer.find('[', open + 1)) {
    const size_t close = answer.find(']', open + 1);
    if (close == std::string_view::npos) break;
    std::string_view inner = answer.substr(open + 1, close - open - 1);
    CitationMarker m{open, {}};
    bool ok = !inner.empty();
    size_t value = 0;
    bool in_number = false;
    for (char c : inner) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        value = std::min<size_t>(value * 10 + static_cast<size_t>(c - '0'), 1u << 20);
        in_number = true;
      } else if (c == ',' || c == ' ') {
        if (in_number) m.numbers.push_back(value);
        value = 0;
        in_number = false;
      } else {
        ok = false;
        break;
      }
    }
    if (in_number) m.numbers.push_back(value);
    if (ok && !m.numbers.empty()) out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> sentence_spans(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = 0;
  auto emit = [&](size_t end) {
    while (start < end && is_space(text[start])) ++start;
    size_t e = end;
    while (e > start && is_space(text[e - 1])) --e;
    if (e > start) out.emplace_back(start, e);
    start = end;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool terminal = (c == '.' || c == '!' || c == '?') && (i + 1 == text.size() || is_space(text[i + 1]));
    const bool blank_line = c == '\n' && i + 1 < text.size() && text[i + 1] == '\n';
    if (terminal) emit(i + 1);
    else if (blank_line) emit(i);
  }
  emit(text.size());
  return out;
}

std::vector<Citation> cite(std::string_view answer, const std::vector<PromptSource>& sources) {
  std::vector<Citation> out;
  std::vector<int> index(sources.size() + 1, -1);  // number → position in out
  const auto answer_spans = sentence_spans(answer);
  for (const auto& marker : citation_markers(answer)) {
    const auto words = content_words(citing_sentence(answer, marker.offset, answer_spans));
    for (size_t n : marker.numbers) {
      if (n < 1 || n > sources.size()) continue;
      const PromptSource& src = sources[n - 1];
      if (index[n] < 0) {
        index[n] = static_cast<int>(out.size());
        out.push_back({n, src.chunk_id, src.document_id, src.external_id, src.title, 0, 0, "", 0});
      }
      Citation& c = out[static_cast<size_t>(index[n])];
      // Only the text the prompt showed can have been relied on; a cut chunk's " …" is ours.
      std::string_view shown = src.text;
      if (src.truncated && shown.size() >= 4) shown.remove_suffix(4);
      const auto spans = sentence_spans(shown);
      for (size_t i = 0; i < spans.size(); ++i) {
        const size_t overlap = shared_words(words, content_words(shown.substr(spans[i].first, spans[i].second - spans[i].first)));
        const bool first_seen = c.end == 0;
        if (first_seen || overlap > c.overlap) {
          c.start = spans[i].first;
          c.end = spans[i].second;
          c.overlap = overlap;
          c.quote = std::string(shown.substr(c.start, c.end - c.start));
        }
      }
    }
  }
  return out;
}

namespace {

// The largest share of `words` found in one sentence of `text`, in [0, 1].
double support(const std::set<std::string>& words, std::string_view text) {
  if (words.empty()) return 0;
  size_t best = 0;
  for (const auto& [start, end] : sentence_spans(text)) {
    best = std::max(best, shared_words(words, content_words(text.substr(start, end - start))));
  }
  return static_cast<double>(best) / static_cast<double>(words.size());
}

// The text a prompt showed of a source (a cut chunk's " …" is ours, not the source's).
std::string_view shown_text(const PromptSource& src) {
  std::string_view shown = src.text;
  if (src.truncated && shown.size() >= 4) shown.remove_suffix(4);
  return shown;
}

// Support of `words` by every source (index n-1 for source n), and the best source's number
// (the lowest number among equals; 0 when there are no sources).
size_t best_source(const std::set<std::string>& words, const std::vector<PromptSource>& sources,
                   std::vector<double>& by_source) {
  by_source.assign(sources.size(), 0);
  size_t best = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    by_source[i] = support(words, shown_text(sources[i]));
    if (best == 0 || by_source[i] > by_source[best - 1]) best = i + 1;
  }
  return best;
}

// Where a marker goes at the end of a sentence: before its closing punctuation.
size_t marker_position(std::string_view answer, size_t end) {
  return end > 0 && (answer[end - 1] == '.' || answer[end - 1] == '!' || answer[end - 1] == '?') ? end - 1 : end;
}

}  // namespace

AttributedAnswer attribute(std::string_view answer, const std::vector<PromptSource>& sources, double min_support) {
  struct Edit {
    size_t start, length;
    std::string text;
  };
  AttributedAnswer out;
  std::vector<Edit> edits;
  const auto spans = sentence_spans(answer);
  std::vector<bool> covered(spans.size(), false);
  std::vector<double> by_source;
  auto span_of = [&](size_t pos) {
    for (size_t i = 0; i < spans.size(); ++i) {
      if (pos >= spans[i].first && pos < spans[i].second) return i;
    }
    return spans.size();
  };
  for (const auto& marker : citation_markers(answer)) {
    size_t i = span_of(marker.offset);
    if (i == spans.size()) continue;
    const auto own = content_words(answer.substr(spans[i].first, spans[i].second - spans[i].first));
    if (own.empty() && i > 0) --i;  // "… in 1821. [2]": the marker vouches for the sentence before
    covered[i] = true;
    const auto words = content_words(citing_sentence(answer, marker.offset, spans));
    if (words.size() < 2) continue;
    const size_t best = best_source(words, sources, by_source);
    if (best == 0 || by_source[best - 1] < min_support) continue;
    std::vector<size_t> numbers;
    bool changed = false;
    for (size_t n : marker.numbers) {
      const bool weak = n < 1 || n > sources.size() || by_source[n - 1] < min_support;
      const size_t keep = weak ? best : n;
      changed |= keep != n;
      out.moved += keep != n;
      if (std::find(numbers.begin(), numbers.end(), keep) == numbers.end()) numbers.push_back(keep);
    }
    if (!changed) continue;
    std::string text = "[";
    for (size_t k = 0; k < numbers.size(); ++k) text += (k ? ", " : "") + std::to_string(numbers[k]);
    const size_t close = answer.find(']', marker.offset);
    edits.push_back({marker.offset, close - marker.offset + 1, text + "]"});
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    if (covered[i]) continue;
    const auto words = content_words(answer.substr(spans[i].first, spans[i].second - spans[i].first));
    if (words.size() < 2) continue;
    const size_t best = best_source(words, sources, by_source);
    if (best == 0 || by_source[best - 1] < min_support) continue;
    edits.push_back({marker_position(answer, spans[i].second), 0, " [" + std::to_string(best) + "]"});
    ++out.added;
  }
  // Apply from the end so that earlier offsets stay valid.
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.start > b.start; });
  out.text = std::string(answer);
  for (const auto& e : edits) out.text.replace(e.start, e.length, e.text);
  return out;
}

nlohmann::json citations_to_json(const std::vector<Citation>& citations) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : citations) {
    out.push_back({{"number", c.number},
                   {"id", c.external_id},
                   {"document_id", c.document_id},
                   {"chunk_id", c.chunk_id},
                   {"title", c.title},
                   {"span", {{"start", c.start}, {"end", c.end}}},
                   {"quote", c.quote}});
  }
  return out;
}

std::vector<Citation> citations_from_json(const nlohmann::json& j) {
  std::vector<Citation> out;
  for (const auto& c : j) {
    Citation x;
    x.number = c.value("number", size_t{0});
    x.external_id = c.value("id", "");
    x.document_id = c.value("document_id", int64_t{0});
    x.chunk_id = c.value("chunk_id", int64_t{0});
    x.title = c.value("title", "");
    if (c.contains("span")) {
      x.start = c["span"].value("start", size_t{0});
      x.end = c["span"].value("end", size_t{0});
    }
    x.quote = c.value("quote", "");
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace ragd::rag
