// Gemma 3's tokenizer (SentencePiece, 262,144 tokens, byte fallback, no space prefix,
// user-defined whitespace/markup tokens) against llama.cpp's llama-tokenize on the same
// file: tests/model/data/gemma3-270m.tokenizer.{inp,out}, written by
// tests/tools/llama_tokenizer_golden.py (llama.cpp's SentencePiece test texts plus texts
// aimed at Gemma's vocabulary). Needs the real model (`ragd pull gemma3-270m`); skips
// without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;

const fs::path kModel = fs::path(RAGD_SOURCE_DIR) / "models" / "Gemma-3-270M.Q4_K_M.gguf";
const fs::path kData =
    fs::path(RAGD_SOURCE_DIR) / "tests" / "model" / "data" / "gemma3-270m.tokenizer";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// The format of ../shared/data/tokenizer: cases each followed by "\n__ggml_vocab_test__\n";
// one line of ids per case.
std::vector<Case> read_cases() {
  const std::string inp = read_all(kData.string() + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(read_all(kData.string() + ".out"));
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(lines, line)) throw std::runtime_error("fewer id lines than cases");
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

class Gemma3Tokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " not found (ragd pull gemma3-270m)";
    file_ = GgufFile::open(kModel.string());
    tok_ = Tokenizer::from_gguf(*file_);
  }
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(Gemma3Tokenizer, MatchesLlamaCppOnEveryCase) {
  const auto cases = read_cases();
  ASSERT_GE(cases.size(), 60u);
  size_t nonempty = 0;
  for (const auto& c : cases) {
    EXPECT_EQ(tok_->encode(c.text, /*add_special=*/false, /*parse_special=*/false), c.ids)
        << "text: \"" << c.text << "\"";
    nonempty += !c.ids.empty();
  }
  EXPECT_GE(nonempty, cases.size() - 2);  // the golden file is not a set of empty lines
}

TEST_F(Gemma3Tokenizer, VocabularyFactsLlamaCppRelyOn) {
  EXPECT_EQ(tok_->vocab_size(), 262144u);
  EXPECT_EQ(tok_->kind(), VocabKind::Spm);
  EXPECT_TRUE(tok_->add_bos());
  EXPECT_EQ(tok_->bos_id(), 2);
  EXPECT_EQ(tok_->eos_id(), 1);
  // A chat turn ends with <end_of_turn>, not EOS: generation must stop there too.
  const auto eot = tok_->find_token("<end_of_turn>");
  ASSERT_TRUE(eot.has_value());
  EXPECT_TRUE(tok_->is_end_of_generation(*eot));
  // BOS is added in front; no space prefix (add_space_prefix is false for Gemma).
  EXPECT_EQ(tok_->encode("Hello world", true, false), (std::vector<int32_t>{2, 9259, 1902}));
  // Turn markers are special tokens only when special tokens are parsed.
  const auto turn = tok_->encode("<start_of_turn>user\n", false, true);
  ASSERT_FALSE(turn.empty());
  EXPECT_EQ(tok_->token_text(turn[0]), "<start_of_turn>");
  EXPECT_EQ(tok_->decode(tok_->encode("  two  spaces\n\n\nand newlines", false, false)),
            "  two  spaces\n\n\nand newlines");
}

TEST_F(Gemma3Tokenizer, ChatPromptUsesGemmaTurnTokens) {
  // The file has no chat template (a base model): Gemma's turns, not ChatML's (whose
  // markers this vocabulary would spell out as plain text).
  const std::string tmpl = chat_template_for(*file_);
  EXPECT_EQ(tmpl, "gemma");
  const auto ids = tokenize_chat(*tok_, tmpl, {{"system", "Be brief."}, {"user", "Hi"}}, true);
  const auto start = *tok_->find_token("<start_of_turn>");
  const auto end = *tok_->find_token("<end_of_turn>");
  EXPECT_EQ(ids.front(), tok_->bos_id());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), start), 2);  // the user turn and "model\n"
  EXPECT_EQ(std::count(ids.begin(), ids.end(), end), 1);
  EXPECT_EQ(tok_->decode(ids, true), "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                                     "<start_of_turn>model\n");
}

}  // namespace
}  // namespace ragd::model
