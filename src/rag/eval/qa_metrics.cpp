#include "rag/eval/qa_metrics.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "rag/answer/citations.h"

namespace ragd::rag {
namespace {

std::vector<std::string> tokens(std::string_view normalized) {
  std::vector<std::string> out;
  std::istringstream in{std::string(normalized)};
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

template <typename F>
double best_over(const std::vector<std::string>& golds, F&& score) {
  double best = 0;
  for (const auto& g : golds) best = std::max(best, score(g));
  return best;
}

}  // namespace

std::string normalize_answer(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && std::ispunct(u)) continue;  // Python's string.punctuation is ASCII
    s += u < 0x80 ? static_cast<char>(std::tolower(u)) : c;
  }
  std::string out;
  for (const auto& t : tokens(s)) {
    if (t == "a" || t == "an" || t == "the") continue;
    if (!out.empty()) out += ' ';
    out += t;
  }
  return out;
}

double exact_match(std::string_view prediction, std::string_view gold) {
  return normalize_answer(prediction) == normalize_answer(gold) ? 1.0 : 0.0;
}

double token_f1(std::string_view prediction, std::string_view gold) {
  const auto p = tokens(normalize_answer(prediction));
  const auto g = tokens(normalize_answer(gold));
  std::map<std::string, int> counts;
  for (const auto& t : g) ++counts[t];
  size_t same = 0;
  for (const auto& t : p) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0;
  const double precision = static_cast<double>(same) / static_cast<double>(p.size());
  const double recall = static_cast<double>(same) / static_cast<double>(g.size());
  return 2 * precision * recall / (precision + recall);
}

double best_exact_match(std::string_view prediction, const std::vector<std::string>& golds) {
  return best_over(golds, [&](const std::string& g) { return exact_match(prediction, g); });
}

double best_token_f1(std::string_view prediction, const std::vector<std::string>& golds) {
  return best_over(golds, [&](const std::string& g) { return token_f1(prediction, g); });
}

bool contains_answer(std::string_view prediction, const std::vector<std::string>& golds) {
  // Padded with spaces so that a match starts and ends on token boundaries. (Built with
  // append: GCC 12 at -O3 warns falsely about " " + s + " ".)
  auto padded = [](std::string_view text) {
    std::string out(1, ' ');
    out.append(normalize_answer(text));
    out.push_back(' ');
    return out;
  };
  const std::string p = padded(prediction);
  for (const auto& g : golds) {
    const std::string n = padded(g);
    if (n.size() > 2 && p.find(n) != std::string::npos) return true;
  }
  return false;
}

std::string strip_citations(std::string_view answer) {
  std::string out;
  size_t pos = 0;
  for (const auto& m : citation_markers(answer)) {
    out.append(answer.substr(pos, m.offset - pos));
    pos = answer.find(']', m.offset) + 1;
  }
  out.append(answer.substr(std::min(pos, answer.size())));
  return out;
}

}  // namespace ragd::rag
