// An in-memory inverted index of one collection that answers BM25 top-k queries with the
// same scores as the collection's FTS5 table's bm25() (k1 = 1.2, b = 0.75, title, heading
// and text weighted 1, IDF = ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6, a phrase's
// frequency summed over columns, document length = FTS5's column sizes summed), but
// without scoring every matching row: MaxScore dynamic pruning skips the chunks that
// cannot enter the top k.
//
// Contract and invariants:
// - Built from the chunks table with FTS5's own tokenizer (fts5_tokenizer.h), so its
//   terms are exactly the FTS5 table's. N and the total token count are checked against
//   the FTS5 table's own totals at build time; a mismatch throws (callers then keep using
//   FTS5), so a stale or divergent index is never silently used.
// - Immutable once built, hence shareable between threads. version() is the FTS5 table's
//   state it was built from (fts_version(), read in the same read transaction as the
//   chunks); every committed write to the table changes it.
// - Ties are broken by chunk id, ascending (FTS5's ORDER BY leaves them unspecified).
// - Only single-token phrases are supported: callers fall back to FTS5 when a query term
//   tokenizes into several tokens (FTS5 would then require them to be adjacent).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rag/search/scored_chunk.h"
#include "rag/store/sqlite_store.h"

namespace ragd::rag {

class Bm25Index {
 public:
  static constexpr double kK1 = 1.2, kB = 0.75;

  // Reads the collection's chunks in one read transaction (a savepoint, so it also works
  // inside a caller's transaction). Throws ragd::Error when the chunks and the FTS5 table
  // disagree on the row or token count.
  static std::shared_ptr<const Bm25Index> build(SqliteStore& store, const Collection& collection);

  // The FTS5 table's structure and totals records: one primary-key lookup, and different
  // after every committed write (each commit flushes a new segment and new totals).
  static std::string fts_version(SqliteStore& store, const Collection& collection);

  const std::string& version() const { return version_; }

  // Chunks matching any of the query tokens (FTS5 tokens, one per phrase, in query order;
  // repeats count again as in FTS5), best first, at most `limit`. `allowed` (indexed by
  // chunk_index()) restricts the candidates when given.
  std::vector<ScoredChunk> search(std::span<const std::string> tokens, size_t limit,
                                  const std::vector<bool>* allowed = nullptr) const;

  // Candidate mask for search() from chunk ids (ids not in the index are ignored).
  std::vector<bool> mask_of(std::span<const int64_t> chunk_ids) const;

  size_t chunks() const { return chunk_ids_.size(); }
  size_t terms() const { return idf_.size(); }
  size_t postings() const { return docs_.size(); }
  size_t memory_bytes() const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  friend class Bm25IndexBuilder;

  // Index of a term's postings in [offsets_[t], offsets_[t + 1]).
  uint32_t tf_at(size_t posting) const {
    uint16_t tf = tfs_[posting];
    return tf == kBigTf ? big_tfs_.at(posting) : tf;
  }
  static constexpr uint16_t kBigTf = 0xffff;  // the real frequency is in big_tfs_

  std::string version_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> term_ids_;
  std::vector<uint64_t> offsets_;  // terms() + 1
  std::vector<uint32_t> docs_;     // internal chunk indexes, ascending per term
  std::vector<uint16_t> tfs_;
  std::unordered_map<uint64_t, uint32_t> big_tfs_;
  std::vector<double> idf_;          // per term
  std::vector<double> max_ratio_;    // per term: max over its postings of tf(k1+1)/(tf+norm)
  std::vector<int64_t> chunk_ids_;   // ascending
  std::vector<int64_t> document_ids_;
  std::vector<double> norm_;         // per chunk: k1 (1 - b + b D / avgdl)
};

}  // namespace ragd::rag
