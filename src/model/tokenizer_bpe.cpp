#include "model/tokenizer_bpe.h"

#include <queue>

#include "model/gguf.h"
#include "model/tokenizer_unicode.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::model {

void BpeTokenizer::MergeTable::reserve(size_t n) {
  size_t size = 16;
  shift_ = 60;
  while (size < 2 * n) size *= 2, --shift_;  // load factor <= 1/2
  slots_.assign(size, Slot{0, Merge{}});
}

void BpeTokenizer::MergeTable::insert(int32_t left, int32_t right, Merge m) {
  const uint64_t k = key(left, right);
  for (size_t i = slot_of(k);; i = (i + 1) & (slots_.size() - 1)) {
    Slot& s = slots_[i];
    if (s.merge.rank < 0) {
      s = {k, m};
      return;
    }
    if (s.key == k) return;
  }
}

const BpeTokenizer::MergeTable::Merge* BpeTokenizer::MergeTable::find(int32_t left,
                                                                      int32_t right) const {
  const uint64_t k = key(left, right);
  for (size_t i = slot_of(k);; i = (i + 1) & (slots_.size() - 1)) {
    const Slot& s = slots_[i];
    if (s.merge.rank < 0) return nullptr;
    if (s.key == k) return &s.merge;
  }
}

BpeTokenizer::BpeTokenizer(const GgufFile& file)
    : Tokenizer(file, VocabKind::Bpe), pre_tokenizer_([&] {
        bool known = false;
        auto patterns = PreTokenizer::patterns_for(pre_, &known);
        if (!known) {
          log::warn("{}: missing or unknown tokenizer.ggml.pre '{}'; using the default regexes",
                    file.path(), pre_);
        }
        return patterns;
      }()) {
  ignore_merges_ = pre_ == "llama3" || pre_ == "llama-v3" || pre_ == "llama-bpe" ||
                   pre_ == "falcon3" || pre_ == "falcon-h1" || pre_ == "pixtral" ||
                   pre_ == "midm-2.0" || pre_ == "lfm2" || pre_ == "tekken";
  for (int b = 0; b < 256; ++b) byte_token_[b] = lookup(unicode::byte_symbol(static_cast<uint8_t>(b)));

  if (!file.has("tokenizer.ggml.merges")) fail("{}: BPE vocabulary without tokenizer.ggml.merges", file.path());
  const GgufArray& merges = file.get_array("tokenizer.ggml.merges");
  if (merges.elem_type != GgufType::STRING) fail("{}: tokenizer.ggml.merges must hold strings", file.path());
  merges_.reserve(merges.strings.size());
  size_t skipped = 0;
  std::string joined;
  for (size_t rank = 0; rank < merges.strings.size(); ++rank) {
    const std::string_view m = merges.strings[rank];
    // "left right"; the separator is the first space after the first byte (a part may itself
    // be a symbol such as "Ġ" but never starts with a literal space).
    const size_t sp = m.find(' ', 1);
    if (sp == std::string_view::npos) {
      ++skipped;
      continue;
    }
    const std::string_view left = m.substr(0, sp), right = m.substr(sp + 1);
    joined.assign(left).append(right);
    const int32_t l = lookup(left), r = lookup(right), res = lookup(joined);
    if (l < 0 || r < 0 || res < 0) {
      ++skipped;  // a merge whose parts or result are not tokens can never fire
      continue;
    }
    merges_.insert(l, r, {static_cast<int32_t>(rank), res});
  }
  if (skipped > 0) log::debug("{}: {} BPE merges reference unknown tokens", file.path(), skipped);
  finish_init();
}

std::string BpeTokenizer::normal_piece(int32_t id) const {
  // Map each symbol of the byte alphabet back to its byte; other characters (possible in
  // added tokens) stand for themselves.
  const std::string& text = tokens_[id].text;
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cpt = unicode::decode_utf8(text, pos);
    const int byte = unicode::symbol_byte(cpt);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(text, start, pos - start);
    }
  }
  return out;
}

void BpeTokenizer::encode_text(std::string_view text, bool /*after_special*/,
                               std::vector<int32_t>& out) const {
  std::vector<std::string_view> words;
  pre_tokenizer_.split(text, words);
  // Long texts repeat words: a word's ids are taken from its first occurrence in `out`
  // (word -> offset, count), which stays valid while `out` only grows.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>, StringHash, std::equal_to<>> seen;
  const bool use_cache = words.size() > 32;
  if (use_cache) seen.reserve(words.size() / 4);
  for (auto word : words) {
    if (word.size() == 1 && byte_token_[static_cast<uint8_t>(word[0])] >= 0) {
      out.push_back(byte_token_[static_cast<uint8_t>(word[0])]);
      continue;
    }
    if (!use_cache) {
      encode_word(word, out);
      continue;
    }
    if (auto it = seen.find(word); it != seen.end()) {
      const auto [offset, count] = it->second;
      for (size_t k = 0; k < count; ++k) out.push_back(out[offset + k]);
      continue;
    }
    const size_t offset = out.size();
    encode_word(word, out);
    seen.emplace(word, std::make_pair(offset, out.size() - offset));
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    std::string encoded;
    for (char c : word) encoded += unicode::byte_symbol(static_cast<uint8_t>(c));
    if (const int32_t id = lookup(encoded); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Symbols form a doubly linked list over the word's bytes; a merge keeps the left symbol
  // and unlinks the right one.
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // -1 at the ends
  };
  struct Candidate {
    int32_t rank, left, right, left_id, right_id, result;
    bool operator<(const Candidate& o) const {  // priority_queue pops the "largest"
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  const int32_t n = static_cast<int32_t>(word.size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {byte_token_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  std::priority_queue<Candidate> queue;
  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || sym[left].id < 0 || sym[right].id < 0) return;
    if (const auto* m = merges_.find(sym[left].id, sym[right].id)) {
      queue.push({m->rank, left, right, sym[left].id, sym[right].id, m->result});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = sym[c.left];
    // Stale when either side has merged since: a merge changes the left symbol's id and
    // unlinks the right one, so ids plus adjacency identify the pair exactly.
    if (l.id != c.left_id || l.next != c.right || sym[c.right].id != c.right_id) continue;
    Symbol& r = sym[c.right];
    l.id = c.result;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    r.id = -2;  // dead
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = sym[i].next) {
    if (sym[i].id >= 0) {
      out.push_back(sym[i].id);
    } else if (unk_ >= 0) {
      out.push_back(unk_);  // a byte with no symbol token in this vocabulary
    }
  }
}

}  // namespace ragd::model
