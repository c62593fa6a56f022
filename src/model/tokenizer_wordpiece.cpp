#include "model/tokenizer_wordpiece.h"

#include <algorithm>

#include "model/tokenizer_unicode.h"

namespace ragd::model {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 "▁": marks a word start

// CJK ideographs, each of which BERT treats as a word (ranges as in BERT / llama.cpp,
// including Hugging Face's 0x2B920 start for extension E).
bool is_cjk_ideograph(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BERT normalisation and word splitting (see the header).
std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words(1);
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t cpt = unicode::nfd_base(unicode::decode_utf8(text, pos));
    if (unicode::is_whitespace(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    const uint8_t cat = unicode::category(cpt);
    if (cpt == 0 || cpt == unicode::kReplacementChar || (cat & (unicode::kControl | unicode::kMark))) {
      continue;
    }
    std::string s;
    unicode::append_utf8(s, unicode::to_lower(cpt));
    if ((cat & unicode::kPunctuation) || (cpt < 0x7F && (cat & unicode::kSymbol)) ||
        is_cjk_ideograph(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = std::move(s);
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(const GgufFile& file) : Tokenizer(file, VocabKind::WordPiece) {
  bool has_hashes = false, has_marker = false;
  for (const auto& t : tokens_) {
    has_hashes |= t.text.starts_with("##");
    has_marker |= t.text.starts_with(kSpace);
  }
  if (has_hashes && !has_marker) {
    // Hugging Face form: "##x" continues a word, "x" starts one; special "[...]" stay as-is.
    converted_.reserve(tokens_.size());
    for (const auto& t : tokens_) {
      if (t.type != TokenType::Normal) {
        converted_.push_back(t.text);
      } else if (t.text.starts_with("##")) {
        converted_.push_back(t.text.substr(2));
      } else {
        converted_.push_back(std::string(kSpace) + t.text);
      }
    }
    for (size_t i = 0; i < converted_.size(); ++i) {
      converted_index_.try_emplace(converted_[i], static_cast<int32_t>(i));
    }
  }
  for (const auto& t : tokens_) max_token_len_ = std::max(max_token_len_, t.text.size());
  for (const auto& t : converted_) max_token_len_ = std::max(max_token_len_, t.size());
  finish_init();
}

int32_t WordPieceTokenizer::find_piece(std::string_view piece) const {
  if (converted_.empty()) return lookup(piece);
  auto it = converted_index_.find(piece);
  return it == converted_index_.end() ? -1 : it->second;
}

std::string WordPieceTokenizer::normal_piece(int32_t id) const {
  const std::string& text = converted_.empty() ? tokens_[id].text : converted_[id];
  if (!text.starts_with(kSpace)) return text;
  std::string out(1, ' ');
  out.append(text, kSpace.size());
  return out;
}

void WordPieceTokenizer::encode_text(std::string_view text, bool /*after_special*/,
                                     std::vector<int32_t>& out) const {
  std::string word;
  for (const std::string& w : split_words(text)) {
    word.assign(kSpace).append(w);
    const size_t n = word.size();
    const size_t first = out.size();
    bool ok = true;
    // Greedy longest match from the left; a position with no match makes the word unknown.
    for (size_t i = 0; i < n && ok;) {
      ok = false;
      for (size_t j = std::min(n, i + max_token_len_); j > i; --j) {
        const int32_t id = find_piece(std::string_view(word).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          i = j;
          ok = true;
          break;
        }
      }
    }
    if (!ok) out.resize(first);
    if (out.size() == first && unk_ >= 0) out.push_back(unk_);
  }
}

}  // namespace ragd::model
