#include "rag/search/sentence_reranker.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "util/error.h"

namespace ragd::rag {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits one line at sentence ends; pieces are trimmed and non-empty.
void split_line(std::string_view line, std::vector<std::string>& out) {
  size_t start = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '.' && line[i] != '!' && line[i] != '?') continue;
    size_t end = i + 1;
    while (end < line.size() && std::string_view("\"')]").find(line[end]) != std::string_view::npos) ++end;
    size_t next = end;
    while (next < line.size() && is_space(line[next])) ++next;
    if (next == end || next >= line.size() || !std::isupper(static_cast<unsigned char>(line[next]))) continue;
    if (auto piece = trim(line.substr(start, end - start)); !piece.empty()) out.emplace_back(piece);
    start = next;
    i = next - 1;
  }
  if (auto piece = trim(line.substr(start)); !piece.empty()) out.emplace_back(piece);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

double norm(const std::vector<float>& a) { return std::sqrt(dot(a, a)); }

}  // namespace

std::vector<std::string> split_sentences(std::string_view text, size_t min_chars) {
  std::vector<std::string> raw;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    split_line(text.substr(0, nl), raw);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  std::vector<std::string> out;
  std::string pending;
  for (auto& s : raw) {
    pending = pending.empty() ? std::move(s) : pending + " " + s;
    if (pending.size() >= min_chars) out.push_back(std::move(pending)), pending.clear();
  }
  if (!pending.empty()) {
    if (out.empty()) out.push_back(std::move(pending));
    else out.back() += " " + pending;
  }
  return out;
}

SentenceReranker::SentenceReranker(Embedder& embedder, SentenceRerankerOptions options)
    : ScoringReranker(options.first_stage_weight), embedder_(embedder), options_(options) {
  if (options_.window == 0) fail("the sentence reranker's window must be at least 1");
  if (options_.max_sentences == 0) fail("the sentence reranker's max_sentences must be at least 1");
}

std::vector<double> SentenceReranker::score(std::string_view query, std::span<const std::string_view> texts) {
  // Units of every text go into one embed_passages call; owner[i] is the unit's text.
  std::vector<std::string> units;
  std::vector<size_t> owner;
  for (size_t t = 0; t < texts.size(); ++t) {
    auto sentences = split_sentences(texts[t], options_.min_chars);
    if (sentences.size() > options_.max_sentences) sentences.resize(options_.max_sentences);
    const size_t w = std::min(options_.window, sentences.size());
    for (size_t i = 0; w > 0 && i + w <= sentences.size(); ++i) {
      std::string unit = sentences[i];
      for (size_t j = 1; j < w; ++j) unit += " " + sentences[i + j];
      units.push_back(std::move(unit));
      owner.push_back(t);
    }
  }
  std::vector<double> best(texts.size(), -1.0);
  if (units.empty()) return best;
  const std::vector<float> q = embedder_.embed_query(query);
  const double qn = norm(q);
  const auto vectors = embedder_.embed_passages(units);
  for (size_t i = 0; i < vectors.size(); ++i) {
    const double denom = qn * norm(vectors[i]);
    const double cosine = denom > 0 ? dot(q, vectors[i]) / denom : 0.0;
    best[owner[i]] = std::max(best[owner[i]], cosine);
  }
  return best;
}

}  // namespace ragd::rag
