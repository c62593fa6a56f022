// A deterministic synthetic corpus for benchmarks: English-like text whose word
// frequencies follow Zipf's law (as real text does, which is what makes BM25 posting lists
// and FTS5 index sizes realistic), with titles, paragraphs and sentences. The same options
// always produce the same bytes, so benchmark runs are comparable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ragd::rag {

struct SyntheticCorpusOptions {
  size_t documents = 1000;
  size_t mean_words = 250;    // per document; actual lengths vary ±50%
  size_t vocabulary = 30000;  // distinct words
  uint64_t seed = 42;
};

// Writes `documents` records as BEIR-style JSONL (`_id`, `title`, `text`).
void write_synthetic_corpus(const std::filesystem::path& file, const SyntheticCorpusOptions& options);

// Keyword queries of 2–6 words drawn from the same vocabulary, skipping the most frequent
// words (which real queries rarely consist of).
std::vector<std::string> synthetic_queries(const SyntheticCorpusOptions& options, size_t count,
                                           uint64_t seed = 7);

}  // namespace ragd::rag
