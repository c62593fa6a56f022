// Tokenizer tests: llama.cpp's reference vocabularies and expected ids (../shared/data/
// tokenizer), the default SmolLM2 model's vocabulary, round trips, special tokens and the
// streaming detokenizer.
#include "model/tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/gguf.h"
#include "model/tokenizer_unicode.h"
#include "util/error.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;

const fs::path kVocabDir = fs::path(RAGD_SHARED_DIR) / "data" / "tokenizer";
const fs::path kSmolLM = fs::path(RAGD_SOURCE_DIR) / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// NAME.gguf.inp holds cases, each followed by "\n__ggml_vocab_test__\n" (llama.cpp's
// test-tokenizer-0 format); NAME.gguf.out has one line of space-separated ids per case.
struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<VocabCase> read_cases(const fs::path& gguf) {
  const std::string inp = read_all(gguf.string() + ".inp");
  const std::string outp = read_all(gguf.string() + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(outp);
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

std::unique_ptr<Tokenizer> load(const fs::path& path) {
  auto file = GgufFile::open(path.string());
  return Tokenizer::from_gguf(*file);  // the tokenizer must not need the file afterwards
}

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (auto id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

class VocabFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabFamily, MatchesReferenceIds) {
  const fs::path gguf = kVocabDir / ("ggml-vocab-" + GetParam() + ".gguf");
  if (!fs::exists(gguf)) GTEST_SKIP() << "reference vocabularies not found at " << kVocabDir;
  auto tok = load(gguf);
  const auto cases = read_cases(gguf);
  ASSERT_EQ(cases.size(), 46u);
  size_t passed = 0;
  for (const auto& c : cases) {
    const auto ids = tok->encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    if (ids == c.ids) {
      ++passed;
    } else {
      ADD_FAILURE() << GetParam() << ": text '" << c.text << "'\n  expected" << ids_str(c.ids)
                    << "\n  got     " << ids_str(ids);
    }
  }
  std::printf("[ vocab    ] %s: %zu/%zu cases\n", GetParam().c_str(), passed, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Families, VocabFamily,
                         ::testing::Values("bert-bge", "deepseek-coder", "deepseek-llm", "falcon",
                                           "gpt-2", "llama-spm", "mpt", "phi-3", "refact",
                                           "starcoder"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// Diverse UTF-8: emoji (with ZWJ and variation selectors), CJK, combining marks, RTL, tabs.
const std::vector<std::string> kRoundTrip = {
    "Hello world",
    "  leading and trailing spaces  ",
    "line one\nline two\r\n\ttabbed\n\n",
    "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙",
    "我想在apple工作1314151天～ 日本語のテキスト 한국어 텍스트",
    "e\u0301 combining acute, n\u0303, Zalgo: Z\u0351\u0352\u0353a\u0300\u0301l\u0302g\u0303o\u0304",
    "עברית ومرحبا بالعالم Ελληνικά Русский",
    "code: for (int i = 0; i < n; ++i) { x[i] *= 2; } // 3.14159",
    "I've been 'told he's there, 'RE you sure? We'Ve a'lL",
};

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, DecodeEncodeIsIdentity) {
  const fs::path gguf = kVocabDir / ("ggml-vocab-" + GetParam() + ".gguf");
  if (!fs::exists(gguf)) GTEST_SKIP() << "reference vocabularies not found at " << kVocabDir;
  auto tok = load(gguf);
  for (const auto& text : kRoundTrip) {
    const auto ids = tok->encode(text, false, false);
    EXPECT_EQ(tok->decode(ids), text) << GetParam() << ":" << ids_str(ids);
    // With BOS/EOS added, decode() still yields the text (control tokens do not print).
    EXPECT_EQ(tok->decode(tok->encode(text, true, false)), text) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Families, RoundTrip,
                         ::testing::Values("gpt-2", "llama-spm", "phi-3", "baichuan", "gpt-neox",
                                           "mpt", "deepseek-llm", "deepseek-coder", "starcoder",
                                           "falcon", "refact"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(Tokenizer, SpecialIdsAndBosEos) {
  const fs::path spm = kVocabDir / "ggml-vocab-llama-spm.gguf";
  if (!fs::exists(spm)) GTEST_SKIP() << "reference vocabularies not found at " << kVocabDir;
  auto tok = load(spm);
  EXPECT_EQ(tok->kind(), VocabKind::Spm);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->is_end_of_generation(2));
  EXPECT_FALSE(tok->is_end_of_generation(1));
  const auto plain = tok->encode("Hello", false, false);
  const auto with = tok->encode("Hello", true, false);
  ASSERT_EQ(with.size(), plain.size() + 1);
  EXPECT_EQ(with.front(), 1);
  // Special text is plain text unless parse_special.
  const auto as_text = tok->encode("<s>Hi", false, false);
  const auto as_special = tok->encode("<s>Hi", false, true);
  EXPECT_NE(as_text.front(), 1);
  EXPECT_EQ(as_special.front(), 1);
  EXPECT_EQ(tok->decode(as_special), "Hi");
  EXPECT_EQ(tok->decode(as_special, /*render_special=*/true), "<s> Hi");
  EXPECT_EQ(tok->find_token("<s>"), 1);
  EXPECT_FALSE(tok->find_token("no such token here").has_value());
  EXPECT_THROW(tok->token_to_piece(-1), Error);
  EXPECT_THROW(tok->token_to_piece(static_cast<int32_t>(tok->vocab_size())), Error);

  // BERT adds [CLS] ... [SEP].
  const fs::path bert = kVocabDir / "ggml-vocab-bert-bge.gguf";
  auto wp = load(bert);
  const auto ids = wp->encode("Hello world", true, false);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  EXPECT_EQ(wp->decode(ids), "hello world");
}

TEST(Tokenizer, SmolLM2DefaultModel) {
  if (!fs::exists(kSmolLM)) GTEST_SKIP() << "default model not fetched: " << kSmolLM;
  auto tok = load(kSmolLM);
  EXPECT_EQ(tok->kind(), VocabKind::Bpe);
  EXPECT_EQ(tok->pre(), "smollm");
  EXPECT_EQ(tok->vocab_size(), 49152u);
  EXPECT_EQ(tok->encode("Hello world", true, false), (std::vector<int32_t>{19556, 905}));
  // smollm splits digits one by one.
  EXPECT_EQ(tok->encode("1234", false, false).size(), 4u);

  const std::string chat =
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
      "Face<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n";
  const auto ids = tok->encode(chat, false, true);
  EXPECT_EQ(ids.front(), 1);  // <|im_start|>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 3);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 2);  // <|im_end|>
  EXPECT_EQ(tok->decode(ids, /*render_special=*/true), chat);
  // Without parse_special the markers are ordinary text.
  const auto text_ids = tok->encode(chat, false, false);
  EXPECT_EQ(std::count(text_ids.begin(), text_ids.end(), 1), 0);
  EXPECT_EQ(tok->decode(text_ids), chat);

  EXPECT_TRUE(tok->is_end_of_generation(2));  // <|im_end|>
  EXPECT_TRUE(tok->is_end_of_generation(0));  // <|endoftext|>
  EXPECT_FALSE(tok->is_end_of_generation(1));
  for (const auto& text : kRoundTrip) EXPECT_EQ(tok->decode(tok->encode(text, false, false)), text);
}

// stories260K (SentencePiece, 512 tokens): llama.cpp's prompt ids and generated text.
TEST(Tokenizer, Stories260KMatchesLlamaCppGolden) {
  const fs::path shared(RAGD_SHARED_DIR);
  const fs::path model = shared / "models" / "stories260K.gguf";
  const fs::path golden = shared / "golden" / "stories260K-greedy.json";
  if (!fs::exists(model) || !fs::exists(golden)) GTEST_SKIP() << "stories260K data not found";
  auto tok = load(model);
  const auto doc = nlohmann::json::parse(read_all(golden));
  for (const auto& c : doc.at("cases")) {
    const auto prompt = c.at("prompt").get<std::string>();
    EXPECT_EQ(tok->encode(prompt, true, false), c.at("prompt_tokens_with_bos").get<std::vector<int32_t>>())
        << prompt;
    StreamingDetokenizer stream(*tok);
    std::string text;
    for (int32_t id : c.at("greedy_tokens").get<std::vector<int32_t>>()) text += stream.push(id);
    text += stream.flush();
    EXPECT_EQ(text, c.at("greedy_text").get<std::string>()) << prompt;
  }
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementCharacter) {
  const fs::path gguf = kVocabDir / "ggml-vocab-gpt-2.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << "reference vocabularies not found at " << kVocabDir;
  auto tok = load(gguf);
  const std::string bad = "ab\xFF\xC3(cd\xE2\x82";
  EXPECT_EQ(tok->decode(tok->encode(bad, false, false)), "ab\uFFFD\uFFFD(cd\uFFFD\uFFFD");
}

TEST(StreamingDetokenizer, HoldsBackIncompleteUtf8) {
  const fs::path gguf = kVocabDir / "ggml-vocab-llama-spm.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << "reference vocabularies not found at " << kVocabDir;
  auto tok = load(gguf);
  // 🦙 is not in the vocabulary: SPM spells it with four byte tokens.
  const std::string text = "Hi 🦙 there 日本";
  const auto ids = tok->encode(text, true, false);
  StreamingDetokenizer stream(*tok, false, /*strip_leading_space=*/true);
  std::string out;
  for (int32_t id : ids) {
    const std::string part = stream.push(id);
    EXPECT_EQ(unicode::valid_utf8_prefix(part), part.size()) << "split a character";
    out += part;
  }
  out += stream.flush();
  EXPECT_EQ(out, text);

  // An unfinished character at the end comes out as U+FFFD on flush.
  StreamingDetokenizer partial(*tok);
  const auto byte_f0 = tok->find_token("<0xF0>");
  ASSERT_TRUE(byte_f0.has_value());
  EXPECT_EQ(partial.push(*byte_f0), "");
  EXPECT_EQ(partial.flush(), "\uFFFD");
}

TEST(TokenizerUnicode, Helpers) {
  EXPECT_EQ(unicode::incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(unicode::incomplete_utf8_tail("ab\xE6"), 1u);
  EXPECT_EQ(unicode::incomplete_utf8_tail("ab\xE6\x97"), 2u);
  EXPECT_EQ(unicode::incomplete_utf8_tail("ab\xE6\x97\xA5"), 0u);
  EXPECT_EQ(unicode::incomplete_utf8_tail("\xF0\x9F\xA6"), 3u);
  EXPECT_EQ(unicode::incomplete_utf8_tail("\xE0\x80"), 0u);  // overlong prefix: invalid
  EXPECT_EQ(unicode::to_lower('A'), static_cast<uint32_t>('a'));
  EXPECT_EQ(unicode::to_lower(0x0416), 0x0436u);  // Ж -> ж
  EXPECT_EQ(unicode::nfd_base(0x00E9), static_cast<uint32_t>('e'));
  EXPECT_EQ(unicode::category('a'), unicode::kLetter);
  EXPECT_EQ(unicode::category(0x0301), unicode::kMark);
  EXPECT_EQ(unicode::category('!'), unicode::kPunctuation);
  EXPECT_TRUE(unicode::is_whitespace(0x3000));
  EXPECT_EQ(unicode::byte_symbol(' '), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(unicode::symbol_byte(0x120), ' ');
}

// Encoding must scale linearly: ingestion tokenizes megabytes.
TEST(Tokenizer, EncodesAMegabyteQuickly) {
  const fs::path gguf = kVocabDir / "ggml-vocab-gpt-2.gguf";
  const fs::path spm = kVocabDir / "ggml-vocab-llama-spm.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << "reference vocabularies not found at " << kVocabDir;
  std::string text;
  while (text.size() < (1u << 20)) {
    for (const auto& s : kRoundTrip) text += s + " ";
  }
  for (const auto& path : {gguf, spm}) {
    auto tok = load(path);
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, false, false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ speed    ] %s: %.1f MB/s (%zu tokens)\n", path.filename().c_str(),
                text.size() / s / 1e6, ids.size());
    EXPECT_LT(s, 5.0);
    EXPECT_EQ(tok->decode(ids), text);
  }
}

}  // namespace
}  // namespace ragd::model
