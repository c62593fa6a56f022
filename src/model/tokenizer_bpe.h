// Byte-level BPE (GPT-2 family: tokenizer.ggml.model = "gpt2").
//
// Text is split into words by the pre-tokenizer regexes for `tokenizer.ggml.pre`; each word's
// bytes become symbols of the GPT-2 byte alphabet (one vocabulary token per byte), and
// adjacent symbols are merged lowest merge-rank first (ties: leftmost first) until no pair in
// `tokenizer.ggml.merges` applies. Merges are looked up by the pair of token ids, so a word of
// n bytes costs O(n log n) with a priority queue.
#pragma once

#include <array>
#include <unordered_map>

#include "model/tokenizer.h"
#include "model/tokenizer_pretokenizer.h"

namespace ragd::model {

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(const GgufFile& file);

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;

 private:
  // Merge table: (left id, right id) -> (rank, merged id) in an open-addressing hash table,
  // one cache line per probe (merge lookups dominate encoding time).
  class MergeTable {
   public:
    struct Merge {
      int32_t rank = -1;    // -1: empty slot
      int32_t result = -1;  // id of the merged token
    };
    void reserve(size_t n);
    // Keeps the first (lowest-rank) entry of a pair.
    void insert(int32_t left, int32_t right, Merge m);
    const Merge* find(int32_t left, int32_t right) const;

   private:
    struct Slot {
      uint64_t key;
      Merge merge;
    };
    static uint64_t key(int32_t l, int32_t r) {
      return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
    }
    size_t slot_of(uint64_t k) const { return (k * 0x9E3779B97F4A7C15ull) >> shift_; }
    std::vector<Slot> slots_;
    int shift_ = 64;
  };

  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  PreTokenizer pre_tokenizer_;
  MergeTable merges_;
  std::array<int32_t, 256> byte_token_{};  // token of each byte's symbol, -1 if missing
  // Llama-3 style: a word that is itself a token is emitted whole, without merging.
  bool ignore_merges_ = false;
};

}  // namespace ragd::model
