// Tokenizer goldens for the vocabularies that ../shared/data/tokenizer lacks: llama.cpp's
// models/ggml-vocab-{llama-bpe,qwen2}.gguf with their .inp/.out cases (llama.cpp's
// test-tokenizer-0 format), fetched by scripts/fetch-vocab into models/vocab/. Llama 3.x
// files use the llama-bpe pre-tokenizer, Qwen2/2.5/3 the qwen2 one; every case must give
// llama.cpp's ids exactly. Skips when the vocabularies were not fetched.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/gguf.h"
#include "model/tokenizer.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;

const fs::path kVocabDir = fs::path(RAGD_SOURCE_DIR) / "models" / "vocab";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// NAME.gguf.inp: cases separated by "\n__ggml_vocab_test__\n"; NAME.gguf.out: one line of
// space-separated ids per case.
std::vector<VocabCase> read_cases(const fs::path& gguf) {
  const std::string inp = read_all(gguf.string() + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(read_all(gguf.string() + ".out"));
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

class FetchedVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(FetchedVocab, MatchesLlamaCppIds) {
  const fs::path gguf = kVocabDir / ("ggml-vocab-" + GetParam() + ".gguf");
  if (!fs::exists(gguf)) GTEST_SKIP() << gguf << " not found (run scripts/fetch-vocab)";
  auto file = GgufFile::open(gguf.string());
  auto tok = Tokenizer::from_gguf(*file);
  const auto cases = read_cases(gguf);
  ASSERT_GE(cases.size(), 40u);
  size_t passed = 0;
  for (const auto& c : cases) {
    const auto ids = tok->encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(ids, c.ids) << GetParam() << ": text '" << c.text << "'";
    passed += ids == c.ids;
    // Byte-level BPE is lossless: the ids decode back to the text.
    EXPECT_EQ(tok->decode(ids), c.text) << GetParam();
  }
  std::printf("[ vocab    ] %s: %zu/%zu cases\n", GetParam().c_str(), passed, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Families, FetchedVocab, ::testing::Values("llama-bpe", "qwen2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace ragd::model
