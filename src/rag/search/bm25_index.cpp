#include "rag/search/bm25_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "rag/store/fts5_tokenizer.h"
#include "rag/store/schema.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// FTS5's %_data rows: the totals ("averages") record and the segment structure record.
constexpr int64_t kAveragesRowid = 1, kStructureRowid = 10;

// SQLite's varint (FTS5 records use it): big-endian 7-bit groups, the ninth byte whole.
uint64_t read_varint(std::span<const std::byte> b, size_t& pos) {
  uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (pos >= b.size()) fail("truncated FTS5 record");
    auto c = static_cast<uint8_t>(b[pos++]);
    if (i == 8) return (v << 8) | c;
    v = (v << 7) | (c & 0x7f);
    if (!(c & 0x80)) return v;
  }
  return v;
}

// Rows and total tokens (all columns) as FTS5 records them; zeros for an empty table.
std::pair<int64_t, int64_t> fts_totals(SqliteStore& store, const Collection& collection) {
  auto& s = store.cached(
      fmt::format("SELECT block FROM {}_data WHERE id = {}", fts_table_name(collection.id), kAveragesRowid));
  if (!s.step()) return {0, 0};
  auto block = s.blob(0);
  size_t pos = 0;
  int64_t rows = 0, tokens = 0;
  if (!block.empty()) {
    rows = static_cast<int64_t>(read_varint(block, pos));
    while (pos < block.size()) tokens += static_cast<int64_t>(read_varint(block, pos));
  }
  s.reset();
  return {rows, tokens};
}

// A read transaction that works inside or outside a caller's transaction.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Db& db) : db_(db) { db_.exec("SAVEPOINT bm25_index_build"); }
  ~ReadSnapshot() {
    try {
      db_.exec("RELEASE bm25_index_build");
    } catch (...) {  // nothing was written, so there is nothing to lose
    }
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  Db& db_;
};

}  // namespace

// Builds the postings chunk-major while reading (one pass over the texts), then turns
// them term-major with a counting sort, which needs no per-term growable vectors.
class Bm25IndexBuilder {
 public:
  explicit Bm25IndexBuilder(Bm25Index& index) : ix_(index) {}

  void add_chunk(int64_t chunk_id, int64_t document_id, Fts5TextTokenizer& tok,
                 std::initializer_list<std::string_view> columns) {
    chunk_terms_.clear();
    uint64_t length = 0;
    for (std::string_view text : columns) {
      bool first_in_column = true;
      tok.tokenize(text, Fts5TextTokenizer::Purpose::Document, [&](std::string_view t, bool colocated) {
        // FTS5's column size counts positions: a colocated token adds none unless first.
        if (!colocated || first_in_column) ++length;
        first_in_column = false;
        auto it = ix_.term_ids_.find(t);
        if (it == ix_.term_ids_.end()) {
          it = ix_.term_ids_.emplace(std::string(t), static_cast<uint32_t>(ix_.term_ids_.size())).first;
          df_.push_back(0);
        }
        chunk_terms_.push_back(it->second);
      });
    }
    std::sort(chunk_terms_.begin(), chunk_terms_.end());
    for (size_t i = 0; i < chunk_terms_.size();) {
      size_t j = i;
      while (j < chunk_terms_.size() && chunk_terms_[j] == chunk_terms_[i]) ++j;
      terms_.push_back(chunk_terms_[i]);
      tfs_.push_back(static_cast<uint32_t>(j - i));
      ++df_[chunk_terms_[i]];
      i = j;
    }
    chunk_end_.push_back(terms_.size());
    ix_.chunk_ids_.push_back(chunk_id);
    ix_.document_ids_.push_back(document_id);
    lengths_.push_back(length);
    total_tokens_ += length;
  }

  void finish(int64_t fts_rows, int64_t fts_tokens) {
    const size_t n = ix_.chunk_ids_.size();
    if (static_cast<int64_t>(n) != fts_rows || static_cast<int64_t>(total_tokens_) != fts_tokens) {
      fail("the FTS5 index disagrees with the chunks ({} rows / {} tokens vs {} / {})", fts_rows,
           fts_tokens, n, total_tokens_);
    }
    // Exactly FTS5's expressions (fts5_aux.c), so that scores match it to the last bits.
    const double k1 = Bm25Index::kK1, b = Bm25Index::kB;
    const double avgdl = n ? static_cast<double>(fts_tokens) / static_cast<double>(fts_rows) : 1;
    ix_.norm_.resize(n);
    for (size_t d = 0; d < n; ++d) {
      const double D = static_cast<double>(lengths_[d]);
      ix_.norm_[d] = k1 * (1 - b + b * D / avgdl);
    }
    const size_t terms = df_.size();
    ix_.offsets_.assign(terms + 1, 0);
    for (size_t t = 0; t < terms; ++t) ix_.offsets_[t + 1] = ix_.offsets_[t] + df_[t];
    ix_.idf_.resize(terms);
    for (size_t t = 0; t < terms; ++t) {
      const int64_t hits = df_[t];
      double idf = std::log((fts_rows - hits + 0.5) / (hits + 0.5));
      if (idf <= 0.0) idf = 1e-6;
      ix_.idf_[t] = idf;
    }
    ix_.docs_.resize(terms_.size());
    ix_.tfs_.resize(terms_.size());
    ix_.max_ratio_.assign(terms, 0);
    std::vector<uint64_t> next(ix_.offsets_.begin(), ix_.offsets_.end() - 1);
    size_t begin = 0;
    for (size_t d = 0; d < n; ++d) {  // chunk order, so every term's postings ascend
      for (size_t i = begin; i < chunk_end_[d]; ++i) {
        const uint32_t t = terms_[i], tf = tfs_[i];
        const uint64_t p = next[t]++;
        ix_.docs_[p] = static_cast<uint32_t>(d);
        if (tf >= Bm25Index::kBigTf) {
          ix_.tfs_[p] = Bm25Index::kBigTf;
          ix_.big_tfs_[p] = tf;
        } else {
          ix_.tfs_[p] = static_cast<uint16_t>(tf);
        }
        const double f = tf;
        ix_.max_ratio_[t] = std::max(ix_.max_ratio_[t], (f * (k1 + 1.0)) / (f + ix_.norm_[d]));
      }
      begin = chunk_end_[d];
    }
  }

 private:
  Bm25Index& ix_;
  std::vector<uint32_t> chunk_terms_;  // scratch: one chunk's term ids
  std::vector<uint32_t> terms_, tfs_;  // chunk-major postings
  std::vector<size_t> chunk_end_;
  std::vector<uint32_t> df_;
  std::vector<uint64_t> lengths_;
  uint64_t total_tokens_ = 0;
};

std::string Bm25Index::fts_version(SqliteStore& store, const Collection& collection) {
  auto& s = store.cached(fmt::format("SELECT block FROM {}_data WHERE id IN ({}, {}) ORDER BY id",
                                     fts_table_name(collection.id), kAveragesRowid, kStructureRowid));
  std::string v;
  while (s.step()) {
    auto b = s.blob(0);
    v += std::to_string(b.size()) + ':';
    v.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  return v;
}

std::shared_ptr<const Bm25Index> Bm25Index::build(SqliteStore& store, const Collection& collection) {
  auto index = std::make_shared<Bm25Index>();
  ReadSnapshot snapshot(store.db());
  index->version_ = fts_version(store, collection);
  auto [fts_rows, fts_tokens] = fts_totals(store, collection);
  Fts5TextTokenizer tok(store.db(), collection.fts_tokenizer);
  Bm25IndexBuilder builder(*index);
  // Rowid order: the scan needs no sort, and internal indexes ascend with chunk ids.
  Stmt s = store.db().prepare(
      "SELECT c.id, c.document_id, c.title, c.heading, c.text FROM chunks c"
      " WHERE c.document_id IN (SELECT id FROM documents WHERE collection_id = ?1) ORDER BY c.id");
  s.bind(1, collection.id);
  while (s.step()) {
    auto text = [&](int col) {
      auto b = s.blob(col);
      return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
    };
    builder.add_chunk(s.int64(0), s.int64(1), tok, {text(2), text(3), text(4)});
  }
  builder.finish(fts_rows, fts_tokens);
  return index;
}

size_t Bm25Index::memory_bytes() const {
  size_t terms = 0;
  for (const auto& [t, id] : term_ids_) terms += t.capacity() + sizeof(t) + sizeof(id) + 16;
  return terms + offsets_.size() * 8 + docs_.size() * 4 + tfs_.size() * 2 + big_tfs_.size() * 32 +
         idf_.size() * 8 + max_ratio_.size() * 8 + chunk_ids_.size() * 8 + document_ids_.size() * 8 +
         norm_.size() * 8;
}

std::vector<bool> Bm25Index::mask_of(std::span<const int64_t> chunk_ids) const {
  std::vector<bool> mask(chunk_ids_.size(), false);
  for (int64_t id : chunk_ids) {
    auto it = std::lower_bound(chunk_ids_.begin(), chunk_ids_.end(), id);
    if (it != chunk_ids_.end() && *it == id) mask[static_cast<size_t>(it - chunk_ids_.begin())] = true;
  }
  return mask;
}

namespace {

// One query term's cursor over its postings.
struct Cursor {
  uint32_t term = 0;
  uint64_t pos = 0, end = 0;
  double upper = 0;  // idf × max ratio × how often the query repeats the term
  uint32_t multiplicity = 0;
};

constexpr uint32_t kDone = UINT32_MAX;

struct Candidate {
  double score;
  uint32_t doc;
};

// Heap order: the top is the weakest entry (lowest score; among equal scores the highest
// chunk index, which loses the chunk-id tie-break).
struct Weaker {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score != b.score ? a.score > b.score : a.doc < b.doc;
  }
};

}  // namespace

std::vector<ScoredChunk> Bm25Index::search(std::span<const std::string> tokens, size_t limit,
                                           const std::vector<bool>* allowed) const {
  if (limit == 0 || tokens.empty() || chunk_ids_.empty()) return {};
  // Query phrases in order (their term ids, or none for a term the index lacks), and one
  // cursor per distinct term.
  std::vector<int64_t> phrase_terms;
  std::vector<Cursor> cursors;
  for (const auto& t : tokens) {
    auto it = term_ids_.find(std::string_view(t));
    if (it == term_ids_.end()) continue;  // matches nothing, adds nothing (as in FTS5)
    phrase_terms.push_back(it->second);
    auto c = std::find_if(cursors.begin(), cursors.end(), [&](const Cursor& x) { return x.term == it->second; });
    if (c == cursors.end()) {
      cursors.push_back(Cursor{it->second, offsets_[it->second], offsets_[it->second + 1], 0, 0});
      c = cursors.end() - 1;
    }
    ++c->multiplicity;
  }
  if (cursors.empty()) return {};
  for (auto& c : cursors) c.upper = idf_[c.term] * max_ratio_[c.term] * c.multiplicity;
  // MaxScore: cursors by ascending upper bound; the first `essential` ones together cannot
  // reach the threshold, so only chunks containing a later term can enter the top k.
  std::sort(cursors.begin(), cursors.end(), [](const Cursor& a, const Cursor& b) { return a.upper < b.upper; });
  const size_t m = cursors.size();
  std::vector<double> prefix(m);  // prefix[i] = sum of upper bounds of cursors 0..i
  double run = 0;
  for (size_t i = 0; i < m; ++i) prefix[i] = run += cursors[i].upper;
  // Bounds are sums in another order than the final scores; the margin keeps a rounding
  // difference from pruning a chunk whose exact score would have beaten the threshold.
  auto below = [](double bound, double threshold) { return bound < threshold * (1 - 1e-9); };

  auto doc_at = [&](const Cursor& c) { return c.pos < c.end ? docs_[c.pos] : kDone; };
  auto seek = [&](Cursor& c, uint32_t target) {  // first posting >= target: gallop, then bisect
    uint64_t lo = c.pos, step = 1;
    while (lo + step < c.end && docs_[lo + step] < target) {
      lo += step;
      step *= 2;
    }
    auto first = docs_.begin() + static_cast<ptrdiff_t>(lo);
    auto last = docs_.begin() + static_cast<ptrdiff_t>(std::min(lo + step + 1, c.end));
    c.pos = static_cast<uint64_t>(std::lower_bound(first, last, target) - docs_.begin());
  };
  auto contribution = [&](const Cursor& c, uint32_t d) {
    const double f = tf_at(c.pos);
    return idf_[c.term] * ((f * (kK1 + 1.0)) / (f + norm_[d]));
  };

  std::priority_queue<Candidate, std::vector<Candidate>, Weaker> heap;
  double threshold = 0;
  size_t essential = 0;  // cursors [essential, m) generate candidates
  std::vector<double> term_score(m);
  while (true) {
    uint32_t d = kDone;
    for (size_t i = essential; i < m; ++i) d = std::min(d, doc_at(cursors[i]));
    if (d == kDone) break;
    if (allowed && !(*allowed)[d]) {
      for (size_t i = essential; i < m; ++i) {
        if (doc_at(cursors[i]) == d) ++cursors[i].pos;
      }
      continue;
    }
    std::fill(term_score.begin(), term_score.end(), 0.0);
    double partial = 0;
    for (size_t i = essential; i < m; ++i) {
      if (doc_at(cursors[i]) == d) {
        term_score[i] = contribution(cursors[i], d);
        partial += term_score[i] * cursors[i].multiplicity;
        ++cursors[i].pos;
      }
    }
    bool pruned = false;
    for (size_t i = essential; i-- > 0;) {  // non-essential terms, largest bound first
      if (heap.size() >= limit && below(partial + prefix[i], threshold)) {
        pruned = true;
        break;
      }
      seek(cursors[i], d);
      if (doc_at(cursors[i]) == d) {
        term_score[i] = contribution(cursors[i], d);
        partial += term_score[i] * cursors[i].multiplicity;
      }
    }
    if (pruned || (heap.size() >= limit && below(partial, threshold))) continue;
    // The exact score, summed phrase by phrase in query order as FTS5 does.
    double score = 0;
    for (int64_t t : phrase_terms) {
      for (size_t i = 0; i < m; ++i) {
        if (cursors[i].term == static_cast<uint32_t>(t)) {
          score += term_score[i];
          break;
        }
      }
    }
    if (heap.size() < limit) {
      heap.push({score, d});
    } else if (score > heap.top().score) {  // equal scores: the earlier chunk stays
      heap.pop();
      heap.push({score, d});
    } else {
      continue;
    }
    if (heap.size() >= limit) {
      threshold = heap.top().score;
      while (essential < m && below(prefix[essential], threshold)) ++essential;
    }
  }
  std::vector<Candidate> best;
  while (!heap.empty()) {
    best.push_back(heap.top());
    heap.pop();
  }
  std::reverse(best.begin(), best.end());
  std::vector<ScoredChunk> out;
  out.reserve(best.size());
  for (const auto& c : best) out.push_back(ScoredChunk{chunk_ids_[c.doc], document_ids_[c.doc], c.score});
  return out;
}

}  // namespace ragd::rag
