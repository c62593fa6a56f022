// FTS5's own tokenizer (porter, unicode61, … as named in a table's tokenize= option),
// driven from C++ through the fts5_api of a connection. Anything that must see exactly the
// terms an FTS5 table indexed (the in-memory BM25 index, bm25_index.h) tokenizes with this
// rather than with a re-implementation, so stemming, case folding and diacritics removal
// can never drift from what SQLite does.
//
// An instance keeps scratch state: use it from one thread at a time. It does not refer to
// the connection after construction (SQLite's built-in tokenizers hold only function
// pointers and their own buffers), but it is cheap enough to create per use.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "rag/store/sqlite.h"

struct Fts5Tokenizer;  // SQLite's opaque tokenizer instance

namespace ragd::rag {

class Fts5TextTokenizer {
 public:
  enum class Purpose { Document, Query };

  // spec: a tokenize= argument such as "porter unicode61 remove_diacritics 2" (barewords
  // separated by spaces). Throws ragd::Error if FTS5 or the tokenizer is not available.
  Fts5TextTokenizer(Db& db, std::string_view spec);
  ~Fts5TextTokenizer();
  Fts5TextTokenizer(const Fts5TextTokenizer&) = delete;
  Fts5TextTokenizer& operator=(const Fts5TextTokenizer&) = delete;

  // Calls fn(token, colocated) for each token in order. A colocated token shares the
  // previous token's position (a synonym); FTS5 counts positions, not tokens, as the
  // column size.
  void tokenize(std::string_view text, Purpose purpose,
                const std::function<void(std::string_view token, bool colocated)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::rag
