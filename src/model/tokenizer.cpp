#include "model/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "model/gguf.h"
#include "model/tokenizer_bpe.h"
#include "model/tokenizer_spm.h"
#include "model/tokenizer_unicode.h"
#include "model/tokenizer_wordpiece.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::model {

std::string_view vocab_kind_name(VocabKind kind) {
  switch (kind) {
    case VocabKind::Bpe: return "BPE";
    case VocabKind::Spm: return "SPM";
    case VocabKind::WordPiece: return "WordPiece";
  }
  return "?";
}

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  if (!file.has("tokenizer.ggml.model")) {
    fail("{}: no tokenizer in this file (missing tokenizer.ggml.model)", file.path());
  }
  const std::string_view model = file.get_string("tokenizer.ggml.model");
  if (model == "gpt2") return std::make_unique<BpeTokenizer>(file);
  if (model == "llama") return std::make_unique<SpmTokenizer>(file);
  if (model == "bert") return std::make_unique<WordPieceTokenizer>(file);
  fail("{}: unsupported tokenizer model '{}' (supported: gpt2, llama, bert)", file.path(), model);
}

// Finds which special tokens occur in a text: a byte trie over the token texts.
struct Tokenizer::SpecialMatcher {
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t rank = -1;  // index in by_length of the token ending here
  };
  std::vector<Node> nodes{1};
  std::vector<int32_t> by_length;  // all tokens, longest text first (ties: lower id first)

  // Tokens must be added longest first.
  void add(std::string_view text, int32_t id) {
    by_length.push_back(id);
    int32_t n = 0;
    for (char ch : text) {
      const auto c = static_cast<uint8_t>(ch);
      auto& kids = nodes[n].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, int32_t{-1}));
      if (it == kids.end() || it->first != c) {
        it = kids.insert(it, {c, static_cast<int32_t>(nodes.size())});
        const int32_t child = it->second;
        nodes.emplace_back();  // invalidates `kids`; `child` was read before
        n = child;
      } else {
        n = it->second;
      }
    }
    nodes[n].rank = static_cast<int32_t>(by_length.size() - 1);
  }
  int32_t child(int32_t n, uint8_t c) const {
    const auto& kids = nodes[n].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, int32_t{-1}));
    return (it == kids.end() || it->first != c) ? -1 : it->second;
  }
  // Ids of the tokens that occur somewhere in `text`, in by_length order.
  std::vector<int32_t> occurring(std::string_view text) const {
    std::vector<uint8_t> seen(by_length.size(), 0);  // by rank
    bool any = false;
    for (size_t i = 0; i < text.size(); ++i) {
      int32_t n = 0;
      for (size_t j = i; j < text.size(); ++j) {
        n = child(n, static_cast<uint8_t>(text[j]));
        if (n < 0) break;
        if (nodes[n].rank >= 0) seen[nodes[n].rank] = any = true;
      }
    }
    std::vector<int32_t> out;
    if (!any) return out;
    for (size_t r = 0; r < seen.size(); ++r) {
      if (seen[r]) out.push_back(by_length[r]);
    }
    return out;
  }
};

Tokenizer::Tokenizer(const GgufFile& file, VocabKind kind) : kind_(kind) {
  const GgufArray& texts = file.get_array("tokenizer.ggml.tokens");
  if (texts.elem_type != GgufType::STRING || texts.strings.empty()) {
    fail("{}: tokenizer.ggml.tokens must be a non-empty array of strings", file.path());
  }
  const size_t n = texts.strings.size();
  if (n > static_cast<size_t>(INT32_MAX)) fail("{}: vocabulary too large", file.path());
  std::vector<float> scores;
  std::vector<int32_t> types;
  if (file.has("tokenizer.ggml.scores")) scores = file.get_array("tokenizer.ggml.scores").as<float>();
  if (file.has("tokenizer.ggml.token_type")) {
    types = file.get_array("tokenizer.ggml.token_type").as<int32_t>();
  }
  if ((!scores.empty() && scores.size() != n) || (!types.empty() && types.size() != n)) {
    fail("{}: tokenizer.ggml.scores/token_type length differs from the {} tokens", file.path(), n);
  }
  tokens_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = std::string(texts.strings[i]);
    if (t.text.empty()) t.text = fmt::format("[EMPTY_{}]", i);  // as llama.cpp: keep ids unique
    if (!scores.empty()) t.score = scores[i];
    if (!types.empty()) {
      t.type = (types[i] >= 0 && types[i] <= 6) ? static_cast<TokenType>(types[i])
                                                 : TokenType::Undefined;
    }
  }
  // Keys view tokens_[i].text: tokens_ is never resized after this point.
  index_.reserve(n);
  for (size_t i = 0; i < n; ++i) index_[tokens_[i].text] = static_cast<int32_t>(i);
  pre_ = std::string(file.get_string("tokenizer.ggml.pre", ""));

  switch (kind) {
    case VocabKind::Spm:
      bos_ = 1, eos_ = 2, unk_ = 0;
      add_bos_ = true, add_space_prefix_ = true;
      break;
    case VocabKind::WordPiece:
      bos_ = 101, unk_ = 100, sep_ = 102, pad_ = 0;
      add_bos_ = true, add_sep_ = true;
      break;
    case VocabKind::Bpe:
      // Llama-3-style vocabularies expect BOS even when the file does not say so.
      add_bos_ = pre_ == "llama3" || pre_ == "llama-v3" || pre_ == "llama-bpe" ||
                 pre_ == "falcon3" || pre_ == "tekken" || pre_ == "chameleon";
      break;
  }
  add_space_prefix_ = file.get_bool("tokenizer.ggml.add_space_prefix", add_space_prefix_);
  add_bos_ = file.get_bool("tokenizer.ggml.add_bos_token", add_bos_);
  add_eos_ = file.get_bool("tokenizer.ggml.add_eos_token", add_eos_);
  add_sep_ = file.get_bool("tokenizer.ggml.add_sep_token", add_sep_);
  load_special_ids(file);
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::load_special_ids(const GgufFile& file) {
  const auto read_id = [&](std::string_view key, int32_t& id) {
    if (!file.has(key)) return;
    const int64_t v = file.get_int(key);
    if (v >= 0 && static_cast<uint64_t>(v) < tokens_.size()) {
      id = static_cast<int32_t>(v);
    } else {
      log::warn("{}: ignoring out-of-range {} = {}", file.path(), key, v);
    }
  };
  if (kind_ == VocabKind::WordPiece) read_id("tokenizer.ggml.cls_token_id", bos_);
  read_id("tokenizer.ggml.bos_token_id", bos_);
  read_id("tokenizer.ggml.eos_token_id", eos_);
  read_id("tokenizer.ggml.eot_token_id", eot_);
  read_id("tokenizer.ggml.eom_token_id", eom_);
  read_id("tokenizer.ggml.unknown_token_id", unk_);
  read_id("tokenizer.ggml.seperator_token_id", sep_);  // sic: the GGUF key is misspelled
  read_id("tokenizer.ggml.padding_token_id", pad_);
  for (int32_t* id : {&bos_, &eos_, &unk_, &sep_, &pad_}) {
    if (*id >= static_cast<int32_t>(tokens_.size())) *id = -1;  // defaults beyond a small vocab
  }

  // End-of-generation tokens are recognised by text, as llama.cpp does (GGUF has no list).
  // They are forced to CONTROL so they never print and only parse with parse_special.
  static constexpr std::string_view kEogTexts[] = {
      "<|eot_id|>", "<|im_end|>",    "<|end|>", "<end_of_turn>",   "<|endoftext|>",
      "<|eom_id|>", "<EOT>",         "_<EOT>",  "<|end_of_text|>", "<end_of_utterance>",
      "<|return|>", "<|call|>",      "<｜end▁of▁sentence｜>"};
  for (auto text : kEogTexts) {
    const int32_t id = lookup(text);
    if (id < 0) continue;
    if (eot_ < 0 && text != "<|return|>" && text != "<|call|>" && text != "<|eom_id|>") eot_ = id;
    if (eom_ < 0 && text == "<|eom_id|>") eom_ = id;
    tokens_[id].type = TokenType::Control;
    eog_ids_.push_back(id);
  }
  for (int32_t id : {eos_, eot_, eom_}) {
    if (id >= 0) eog_ids_.push_back(id);
  }
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());

  // Phi-3 models strip whitespace after their special tokens (llama.cpp does the same by name).
  std::string name(file.get_string("general.name", ""));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (auto& t : tokens_) {
      const bool special = t.type == TokenType::Control || t.type == TokenType::UserDefined ||
                           t.type == TokenType::Unknown;
      if (special || t.text == "</s>") t.rstrip = true;
      if (t.text == "<unk>" || t.text == "<s>" || t.text == "<|endoftext|>") t.rstrip = false;
    }
  }
}

void Tokenizer::finish_init() {
  special_all_ = std::make_unique<SpecialMatcher>();
  special_user_ = std::make_unique<SpecialMatcher>();
  std::vector<int32_t> specials;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const TokenType t = tokens_[i].type;
    if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) {
      specials.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(specials.begin(), specials.end(), [&](int32_t a, int32_t b) {
    return tokens_[a].text.size() > tokens_[b].text.size();
  });
  for (int32_t id : specials) {
    special_all_->add(tokens_[id].text, id);
    if (tokens_[id].type == TokenType::UserDefined) {
      special_user_->add(tokens_[id].text, id);
    }
  }
  pieces_.resize(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const TokenType t = tokens_[i].type;
    if (t == TokenType::Normal || t == TokenType::Byte || t == TokenType::Undefined) {
      pieces_[i] = normal_piece(static_cast<int32_t>(i));
    } else if (t != TokenType::Unused) {
      pieces_[i] = tokens_[i].text;  // control, unknown and user-defined tokens print as-is
    }
  }
}

// Splits `text` into runs of plain text and special tokens. Special tokens are taken longest
// first: every occurrence of the longest one is cut out of every text run, then the next one
// in what remains, and so on (llama.cpp's order, which decides overlapping cases). A control
// or unknown token is cut only where its whole text lies inside one span with parse_special;
// user-defined tokens are cut anywhere. `spans` cover `text` in order.
void Tokenizer::partition(std::string_view text, std::span<const Span> spans,
                          std::vector<Fragment>& frags) const {
  frags.clear();
  if (text.empty()) return;
  frags.push_back({-1, 0, text.size()});
  const bool any_parse =
      std::any_of(spans.begin(), spans.end(), [](const Span& s) { return s.parse_special; });
  const SpecialMatcher& matcher = any_parse ? *special_all_ : *special_user_;
  if (matcher.by_length.empty()) return;
  const auto allowed = [&](int32_t id, size_t match) {
    if (tokens_[id].type == TokenType::UserDefined) return true;
    auto it = std::upper_bound(spans.begin(), spans.end(), match,
                               [](size_t m, const Span& s) { return m < s.offset; });
    if (it == spans.begin()) return false;
    --it;
    return it->parse_special && match + tokens_[id].text.size() <= it->offset + it->length;
  };
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::vector<Fragment> next;
  for (int32_t id : matcher.occurring(text)) {
    const TokenData& tok = tokens_[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t start = f.offset;
      const size_t end = f.offset + f.length;
      for (size_t from = start; from < end;) {
        const size_t match = text.substr(0, end).find(tok.text, from);
        if (match == std::string_view::npos) break;
        if (!allowed(id, match)) {
          from = match + 1;
          continue;
        }
        size_t left_end = match;
        if (tok.lstrip) {
          while (left_end > start && is_space(text[left_end - 1])) --left_end;
        }
        if (left_end > start) next.push_back({-1, start, left_end - start});
        next.push_back({id, match, tok.text.size()});
        start = match + tok.text.size();
        if (tok.rstrip) {
          while (start < end && is_space(text[start])) ++start;
        }
        from = start;
      }
      if (start < end) next.push_back({-1, start, end - start});
    }
    frags.swap(next);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, bool add_special,
                                       bool parse_special) const {
  // Pre-tokenizer regexes and UTF-8 walks below rely on valid UTF-8.
  std::string sanitized;
  std::string_view text = raw;
  if (unicode::valid_utf8_prefix(raw) != raw.size()) {
    sanitized = unicode::sanitize_utf8(raw);
    text = sanitized;
  }
  const Span whole{0, text.size(), parse_special};
  return encode_partitioned(text, std::span(&whole, 1), add_special);
}

std::vector<int32_t> Tokenizer::encode_pieces(std::span<const Piece> pieces,
                                              bool add_special) const {
  std::string text;
  std::vector<Span> spans;
  spans.reserve(pieces.size());
  for (const Piece& p : pieces) {
    const size_t offset = text.size();
    if (unicode::valid_utf8_prefix(p.text) != p.text.size()) {
      text += unicode::sanitize_utf8(p.text);
    } else {
      text += p.text;
    }
    spans.push_back({offset, text.size() - offset, p.parse_special});
  }
  return encode_partitioned(text, spans, add_special);
}

std::vector<int32_t> Tokenizer::encode_partitioned(std::string_view text,
                                                   std::span<const Span> spans,
                                                   bool add_special) const {
  std::vector<Fragment> frags;
  partition(text, spans, frags);

  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && add_bos_) {
    if (bos_ < 0) fail("this vocabulary asks for a BOS token but defines none");
    out.push_back(bos_);
  }
  bool after_special = true;  // the start of the input counts as "after a special token"
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_text(text.substr(f.offset, f.length), after_special, out);
      after_special = false;
    }
  }
  if (add_special && add_eos_) {
    if (eos_ < 0) fail("this vocabulary asks for an EOS token but defines none");
    out.push_back(eos_);
  }
  if (add_special && add_sep_) {
    if (sep_ < 0) fail("this vocabulary asks for a SEP token but defines none");
    out.push_back(sep_);
  }
  return out;
}

const std::string& Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  static const std::string kEmpty;
  const TokenType type = token_type(id);
  if (!render_special && (type == TokenType::Control || type == TokenType::Unknown)) return kEmpty;
  return pieces_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  bool strip = strips_leading_space();
  for (int32_t id : ids) {
    const std::string& piece = token_to_piece(id, render_special);
    if (piece.empty()) continue;
    const TokenType type = tokens_[id].type;
    const bool text_token = type != TokenType::Control && type != TokenType::Unknown;
    if (strip && text_token && out.empty() && piece[0] == ' ') {
      out.append(piece, 1);
    } else {
      out += piece;
    }
    strip = false;
  }
  return out;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    fail("token id {} out of range (vocabulary has {} tokens)", id, tokens_.size());
  }
  return tokens_[id].text;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    fail("token id {} out of range (vocabulary has {} tokens)", id, tokens_.size());
  }
  return tokens_[id].type;
}

float Tokenizer::token_score(int32_t id) const {
  token_type(id);  // range check
  return tokens_[id].score;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const int32_t id = lookup(text);
  if (id < 0) return std::nullopt;
  return id;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

}  // namespace ragd::model
