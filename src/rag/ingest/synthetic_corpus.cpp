#include "rag/ingest/synthetic_corpus.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace ragd::rag {
namespace {

// splitmix64: tiny, fast, and identical on every platform (unlike std distributions).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

// Word `rank` of the vocabulary, made of 1–4 syllables; frequent words are short.
std::string make_word(size_t rank) {
  static constexpr const char* kSyllables[] = {
      "ka", "lo", "mi", "ne", "ru", "ta", "shi", "por", "vel", "den", "gra", "sol", "tin",
      "mar", "qua", "ber", "lin", "dor", "fe", "zu", "pra", "cal", "ment", "ion", "ex", "ul"};
  constexpr size_t n = std::size(kSyllables);
  std::string w;
  size_t syllables = rank < 100 ? 1 : rank < 2000 ? 2 : rank < 15000 ? 3 : 4;
  uint64_t x = rank * 2654435761ULL + 12345;
  for (size_t i = 0; i < syllables; ++i) {
    w += kSyllables[x % n];
    x /= n;
    x ^= rank * 40503ULL + i * 7919ULL;
  }
  return w + (rank >= n * n ? std::to_string(rank % 97) : "");  // keep words distinct
}

class ZipfWords {
 public:
  ZipfWords(size_t vocabulary) {
    cumulative_.reserve(vocabulary);
    double sum = 0;
    for (size_t r = 1; r <= vocabulary; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r), 1.07);
      cumulative_.push_back(sum);
      words_.push_back(make_word(r - 1));
    }
  }
  const std::string& sample(Rng& rng, size_t min_rank = 0) const {
    double lo = min_rank ? cumulative_[min_rank - 1] : 0;
    double u = lo + rng.uniform() * (cumulative_.back() - lo);
    auto it = std::lower_bound(cumulative_.begin(), cumulative_.end(), u);
    size_t r = std::min<size_t>(static_cast<size_t>(it - cumulative_.begin()), words_.size() - 1);
    return words_[r];
  }

 private:
  std::vector<double> cumulative_;
  std::vector<std::string> words_;
};

std::string sentence(const ZipfWords& words, Rng& rng, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    std::string w = words.sample(rng);
    if (i == 0) w[0] = static_cast<char>(w[0] - 32);
    s += (i ? " " : "") + w;
  }
  return s + ".";
}

}  // namespace

void write_synthetic_corpus(const std::filesystem::path& file, const SyntheticCorpusOptions& o) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write {}", file.string());
  ZipfWords words(std::max<size_t>(o.vocabulary, 100));
  Rng rng(o.seed);
  for (size_t d = 0; d < o.documents; ++d) {
    size_t target = o.mean_words / 2 + rng.below(std::max<size_t>(o.mean_words, 1) + 1);
    std::string text;
    size_t written = 0, in_paragraph = 0;
    while (written < target) {
      size_t n = 8 + rng.below(13);
      if (!text.empty()) text += in_paragraph >= 4 + rng.below(3) ? "\n\n" : " ";
      if (text.ends_with("\n\n")) in_paragraph = 0;
      text += sentence(words, rng, n);
      written += n;
      ++in_paragraph;
    }
    std::string title = sentence(words, rng, 3 + rng.below(5));
    title.pop_back();
    nlohmann::json rec = {{"_id", "doc" + std::to_string(d)}, {"title", title}, {"text", text}};
    out << rec.dump() << '\n';
  }
  if (!out) fail("cannot write {}", file.string());
}

std::vector<std::string> synthetic_queries(const SyntheticCorpusOptions& o, size_t count,
                                           uint64_t seed) {
  ZipfWords words(std::max<size_t>(o.vocabulary, 100));
  Rng rng(seed);
  std::vector<std::string> queries;
  for (size_t q = 0; q < count; ++q) {
    size_t n = 2 + rng.below(5);
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + words.sample(rng, 50);
    queries.push_back(std::move(s));
  }
  return queries;
}

}  // namespace ragd::rag
