// Tokenizer: text <-> token ids for a model's vocabulary, built from GGUF metadata
// (tokenizer.ggml.*). Three kinds, as in llama.cpp, chosen by `tokenizer.ggml.model`:
//   "gpt2"  -> byte-level BPE (tokenizer_bpe.h) with the regex pre-tokenizer named by
//              `tokenizer.ggml.pre` (tokenizer_pretokenizer.h);
//   "llama" -> SentencePiece BPE (tokenizer_spm.h): score-ordered merges over UTF-8
//              characters, ▁ for spaces, <0xXX> byte fallback;
//   "bert"  -> WordPiece (tokenizer_wordpiece.h).
// Results match llama.cpp's llama_tokenize (and so Hugging Face) id for id.
//
// Usage:
//   auto tok = Tokenizer::from_gguf(*gguf);
//   auto ids = tok->encode("Hello", /*add_special=*/true, /*parse_special=*/false);
//   std::string text = tok->decode(ids);
//
// Special tokens: tokens of type CONTROL (e.g. <|im_start|>, <s>) are recognised in the input
// only when parse_special is true; USER_DEFINED tokens (added tokens such as whitespace runs)
// always are, as in Hugging Face. Longer special tokens win over shorter ones.
//
// All methods are const and thread-safe; a Tokenizer holds its own copy of the vocabulary
// (the GgufFile may be closed afterwards).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ragd::model {

class GgufFile;

// GGUF `tokenizer.ggml.token_type` values.
enum class TokenType : uint8_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

enum class VocabKind { Bpe, Spm, WordPiece };
std::string_view vocab_kind_name(VocabKind kind);

// Hash/equality that let unordered_map<std::string_view, ...> be searched without copies.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Tokenizer {
 public:
  // Builds the tokenizer a GGUF file describes (a vocab-only file is fine). Throws
  // ragd::Error for a missing/unsupported tokenizer model or inconsistent metadata.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Tokenizes UTF-8 text (invalid bytes are read as U+FFFD). add_special adds BOS/EOS/SEP as
  // the metadata asks (tokenizer.ggml.add_bos_token etc.); parse_special lets control-token
  // texts in `text` become their ids.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // A piece of a prompt; control-token texts in it become their ids only if parse_special.
  struct Piece {
    std::string_view text;
    bool parse_special;
  };
  // Tokenizes the concatenated pieces as encode() would, except that a control-token text is
  // recognised only inside one piece with parse_special (user-defined tokens, as in encode, are
  // recognised everywhere). Plain text between two special tokens is tokenized as one run even
  // where it spans pieces, so pieces holding no special text give exactly the ids of
  // encode(concatenation, add_special, true). Chat prompts use this to keep message content
  // from forging role markers.
  std::vector<int32_t> encode_pieces(std::span<const Piece> pieces, bool add_special) const;

  // The bytes token `id` stands for (possibly a partial UTF-8 sequence, e.g. a byte token).
  // Control and unknown tokens give "" unless render_special. Throws for an id out of range.
  const std::string& token_to_piece(int32_t id, bool render_special = false) const;
  // Concatenated pieces. For vocabularies that prefix text with a space (SentencePiece
  // add_space_prefix, WordPiece's ▁), the one leading space of the text is dropped, so that
  // decode(encode(x)) == x for valid UTF-8 x.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

  size_t vocab_size() const { return tokens_.size(); }
  VocabKind kind() const { return kind_; }
  const std::string& pre() const { return pre_; }  // tokenizer.ggml.pre ("" when absent)
  const std::string& token_text(int32_t id) const;  // the raw vocabulary string
  TokenType token_type(int32_t id) const;
  float token_score(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;  // exact vocabulary string

  // Special ids; -1 when the vocabulary has none.
  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }
  int32_t eot_id() const { return eot_; }
  int32_t unk_id() const { return unk_; }
  int32_t sep_id() const { return sep_; }
  int32_t pad_id() const { return pad_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // True for ids that end a generated turn: EOS, EOT/EOM and tokens such as <|im_end|>,
  // <|eot_id|>, <|end|>, <end_of_turn>, <|endoftext|>.
  bool is_end_of_generation(int32_t id) const;
  const std::vector<int32_t>& end_of_generation_ids() const { return eog_ids_; }
  bool is_control(int32_t id) const { return token_type(id) == TokenType::Control; }

 protected:
  struct TokenData {
    std::string text;
    float score = 0.0f;
    TokenType type = TokenType::Normal;
    bool lstrip = false;  // special token swallows whitespace to its left / right
    bool rstrip = false;
  };

  Tokenizer(const GgufFile& file, VocabKind kind);

  // Tokenizes a run of text that holds no special token. `after_special` is true when the run
  // starts the input or follows a special token (SentencePiece adds its space prefix there).
  virtual void encode_text(std::string_view text, bool after_special,
                           std::vector<int32_t>& out) const = 0;
  // The piece of a NORMAL/BYTE token, i.e. what the token's text decodes to.
  virtual std::string normal_piece(int32_t id) const = 0;
  // Whether decode() drops one leading space (see decode()).
  virtual bool strips_leading_space() const { return false; }

  int32_t lookup(std::string_view text) const {
    auto it = index_.find(text);
    return it == index_.end() ? -1 : it->second;
  }
  // Must be called by the most-derived constructor once normal_piece() works.
  void finish_init();

  std::vector<TokenData> tokens_;
  std::unordered_map<std::string_view, int32_t, StringHash, std::equal_to<>> index_;
  VocabKind kind_;
  std::string pre_;
  int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, sep_ = -1, pad_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_sep_ = false, add_space_prefix_ = false;

 private:
  struct SpecialMatcher;
  struct Fragment {
    int32_t token;  // -1: text [offset, offset + length) of the input
    size_t offset, length;
  };
  void load_special_ids(const GgufFile& file);
  struct Span {  // a range of the input and whether control tokens may be matched in it
    size_t offset, length;
    bool parse_special;
  };
  void partition(std::string_view text, std::span<const Span> spans,
                 std::vector<Fragment>& frags) const;
  std::vector<int32_t> encode_partitioned(std::string_view text, std::span<const Span> spans,
                                          bool add_special) const;

  std::vector<int32_t> eog_ids_;
  std::vector<std::string> pieces_;  // rendered piece of every token (special text included)
  std::unique_ptr<SpecialMatcher> special_all_;   // control + user-defined + unknown tokens
  std::unique_ptr<SpecialMatcher> special_user_;  // user-defined tokens only
};

// Turns a stream of token ids into text without ever emitting half of a UTF-8 character:
// bytes of an incomplete sequence at the end are held back until the next token completes
// them. Output is always valid UTF-8 (invalid bytes become U+FFFD).
class StreamingDetokenizer {
 public:
  // strip_leading_space: drop the one space a SentencePiece/WordPiece vocabulary puts in front
  // of the first word (use it when the stream is the start of a text, not a continuation).
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool render_special = false,
                                bool strip_leading_space = false);
  // Text completed by this token ("" while a character is still incomplete).
  std::string push(int32_t id);
  // Whatever is still held back (an unfinished sequence comes out as U+FFFD), and resets.
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool render_special_;
  bool strip_pending_;
  std::string pending_;
};

}  // namespace ragd::model
