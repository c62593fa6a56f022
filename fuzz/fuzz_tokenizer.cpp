// The tokenizers (SentencePiece BPE, byte-level BPE with its regex pre-tokenizers,
// WordPiece) on arbitrary bytes: invalid UTF-8, control-token texts, long runs.
//
// Vocabularies: RAGD_FUZZ_VOCABS, a ':'-separated list of GGUF files (vocab-only files are
// enough), else the llama.cpp vocab files in ../shared/data/tokenizer when present. With
// none, every input is a no-op and a note says so once (the target then tests nothing).
//
// Input: the first byte picks one vocabulary and whether special tokens are parsed (byte %
// (2 x vocabularies)); the rest is the text. One tokenization per input instead of every
// vocabulary in both modes keeps campaigns at a useful rate (12 encodes of a 4 KB input
// took ~130 ms under ASan).
//
// Properties: every id is in the vocabulary; for a byte-level BPE vocabulary that has all
// 256 byte tokens, decode(encode(x)) == x for valid UTF-8 x without special-token parsing
// (no byte can be lost). Vocabularies lacking byte tokens (Falcon's lacks several control
// bytes) drop those bytes, as llama.cpp does, so the property does not apply to them.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "util/error.h"

namespace {

using namespace ragd::model;

std::vector<std::unique_ptr<Tokenizer>> g_tokenizers;
std::vector<bool> g_lossless;  // per tokenizer: byte-level BPE with every byte token

// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68
// bytes for U+0100 onwards, in byte order.
std::string byte_token(int byte) {
  int cp = byte;
  if (!((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174)) {
    int n = 0;
    for (int b = 0; b < byte; ++b) {
      if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) s += static_cast<char>(cp);
  else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

bool has_every_byte(const Tokenizer& tok) {
  if (tok.kind() != VocabKind::Bpe) return false;
  for (int b = 0; b < 256; ++b) {
    if (!tok.find_token(byte_token(b))) return false;
  }
  return true;
}

std::vector<std::string> vocab_paths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("RAGD_FUZZ_VOCABS"); env && *env) {
    for (std::string_view p : ragd::fuzz::split_fields(env, ':')) {
      if (!p.empty()) paths.emplace_back(p);
    }
    return paths;
  }
  const std::filesystem::path dir = RAGD_FUZZ_VOCAB_DIR;
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-bert-bge.gguf", "ggml-vocab-phi-3.gguf",
                           "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-falcon.gguf"}) {
    if (std::filesystem::exists(dir / name)) paths.push_back((dir / name).string());
  }
  return paths;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (const std::string& path : vocab_paths()) {
    auto file = GgufFile::open(path);  // a bad vocabulary path is a setup error: throw
    g_tokenizers.push_back(Tokenizer::from_gguf(*file));
    g_lossless.push_back(has_every_byte(*g_tokenizers.back()));
  }
  std::fprintf(stderr, "fuzz_tokenizer: %zu vocabularies, %zu byte-complete BPE\n",
               g_tokenizers.size(), static_cast<size_t>(std::count(g_lossless.begin(), g_lossless.end(), true)));
  if (g_tokenizers.empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: no vocabulary (set RAGD_FUZZ_VOCABS or provide "
                         "../shared/data/tokenizer); inputs are not tokenized\n");
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || g_tokenizers.empty()) return 0;
  const size_t choice = data[0] % (2 * g_tokenizers.size());
  const size_t t = choice / 2;
  const bool parse_special = choice % 2 == 1;
  const std::string_view text = ragd::fuzz::as_text(data + 1, size - 1);
  const Tokenizer* tok = g_tokenizers[t].get();
  std::vector<int32_t> ids = tok->encode(text, /*add_special=*/parse_special, parse_special);
  for (int32_t id : ids) RAGD_FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok->vocab_size());
  std::string back = tok->decode(ids, /*render_special=*/parse_special);
  if (!parse_special && g_lossless[t] && valid_utf8(text)) RAGD_FUZZ_CHECK(back == text);
  return 0;
}
