// Splits a Document into chunks of at most `chunk_tokens` tokens that overlap by about
// `overlap_tokens`, preferring to end a chunk at a paragraph break, then at a sentence end,
// and only then between words. Every chunk carries its document's title and the heading
// path of the section it came from; chunks never span sections.
//
// Token counts come from a pluggable TokenCounter (token_counter.h). The chunker counts each
// word once and relies on counts being additive over words; Chunk::token_count is then
// recounted on the whole chunk text.
#pragma once

#include <string>
#include <vector>

#include "rag/ingest/document.h"
#include "rag/ingest/token_counter.h"

namespace ragd::rag {

struct Chunk {
  std::string title;
  std::string heading;
  std::string text;  // a verbatim slice of the section text (inner whitespace preserved)
  size_t token_count = 0;
};

struct ChunkerOptions {
  size_t chunk_tokens = 512;
  size_t overlap_tokens = 50;
  TokenCounter count_tokens = approx_token_count;
  // Identifies count_tokens in signature(); set it whenever count_tokens is replaced.
  std::string counter_name = kApproxTokenCounterName;

  // Throws ragd::Error for settings that cannot work (chunk_tokens < 8, overlap ≥ half).
  void validate() const;
  // Changes whenever the chunking of any document would change; stored with documents so
  // that re-ingesting with other settings re-chunks instead of being skipped.
  std::string signature() const;
};

class Chunker {
 public:
  explicit Chunker(ChunkerOptions options);
  // A document with a title but no body text yields one chunk with empty text, so that its
  // title is still searchable. A document with neither yields no chunks.
  std::vector<Chunk> chunk(const Document& doc) const;
  const ChunkerOptions& options() const { return options_; }

 private:
  void chunk_section(const Document& doc, const Section& section, std::vector<Chunk>& out) const;
  ChunkerOptions options_;
};

}  // namespace ragd::rag
