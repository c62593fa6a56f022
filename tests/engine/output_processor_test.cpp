// The per-token rules (engine/output_processor.h) on a real vocabulary without a model:
// ids are fed as a sampler would produce them.
#include "engine/output_processor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace ragd::engine {
namespace {

class OutputProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(RAGD_SHARED_DIR) + "/data/tokenizer/ggml-vocab-llama-spm.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    file_ = model::GgufFile::open(path);
    tok_ = model::Tokenizer::from_gguf(*file_);
  }

  std::vector<int32_t> ids(std::string_view text) const { return tok_->encode(text, false, false); }
  int32_t byte(unsigned char b) const {
    auto id = tok_->find_token(fmt::format("<0x{:02X}>", b));
    EXPECT_TRUE(id.has_value());
    return id.value_or(0);
  }
  // SentencePiece puts a space in front of the text: ids("a b") is " a b" here, as the
  // streaming detokenizer gives it (the space of the first word kept).
  std::string pieces(const std::vector<int32_t>& v) const {
    std::string s;
    for (int32_t id : v) s += tok_->token_to_piece(id);
    return s;
  }

  struct Run {
    std::string streamed;  // texts the pushes returned
    std::string flushed;   // flush() at the end (Stop or Length)
    std::optional<FinishReason> finish;
    size_t pushed = 0;
    size_t text_tokens = 0;
    std::string text() const { return streamed + flushed; }
  };
  Run run(const GenerationOptions& options, const std::vector<int32_t>& v, size_t prompt = 1,
          size_t ctx = 4096) const {
    OutputProcessor p(options, *tok_, prompt, ctx);
    Run r;
    for (int32_t id : v) {
      TokenOutput out = p.push(id, false);
      ++r.pushed;
      if (out.text_token) ++r.text_tokens;
      EXPECT_TRUE(out.text_token || out.text.empty());
      r.streamed += out.text;
      if (out.finish) {
        r.finish = out.finish;
        r.flushed = p.flush();
        break;
      }
    }
    EXPECT_EQ(p.generated(), r.pushed);
    return r;
  }

  std::unique_ptr<model::GgufFile> file_;
  std::unique_ptr<model::Tokenizer> tok_;
};

TEST_F(OutputProcessorTest, StopStringAcrossTokensEndsBeforeIt) {
  const auto v = ids("The quick brown fox jumps");
  const std::string full = pieces(v);
  ASSERT_EQ(full, " The quick brown fox jumps");
  // "k bro" starts in one token and ends in a later one.
  GenerationOptions o;
  o.stop = {"k bro"};
  const Run r = run(o, v);
  EXPECT_EQ(r.text(), " The quic");
  EXPECT_EQ(r.finish, FinishReason::Stop);
  // It ended at the token that completed the stop string, not later.
  EXPECT_LT(r.pushed, v.size());
  EXPECT_NE(pieces({v.begin(), v.begin() + static_cast<std::ptrdiff_t>(r.pushed)}).find("k bro"), std::string::npos);
  EXPECT_EQ(pieces({v.begin(), v.begin() + static_cast<std::ptrdiff_t>(r.pushed - 1)}).find("k bro"), std::string::npos);
}

TEST_F(OutputProcessorTest, StopAfterKeepsTheStringInTheText) {
  GenerationOptions o;
  o.stop_after = {"brown"};
  const Run r = run(o, ids("The quick brown fox jumps"));
  EXPECT_EQ(r.text(), " The quick brown");
  EXPECT_EQ(r.finish, FinishReason::Stop);
}

TEST_F(OutputProcessorTest, PartialStopMatchIsHeldBackThenFlushed) {
  const auto v = ids("one two");
  GenerationOptions o;
  o.stop = {"twox"};  // the text ends with a prefix of it
  o.max_tokens = v.size();
  const Run r = run(o, v);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.streamed, " one ");
  EXPECT_EQ(r.flushed, "two");
}

TEST_F(OutputProcessorTest, EndOfGenerationStopsUnlessIgnoreEos) {
  ASSERT_GE(tok_->eos_id(), 0);
  auto v = ids("Hi");
  const size_t before_eos = v.size();
  v.push_back(tok_->eos_id());
  for (int32_t id : ids("there")) v.push_back(id);

  GenerationOptions o;
  Run r = run(o, v);
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text(), " Hi");
  EXPECT_EQ(r.pushed, before_eos + 1);        // the end-of-generation id counts as generated
  EXPECT_EQ(r.text_tokens, before_eos);       // but is no text (no logprobs for it)

  o.ignore_eos = true;
  o.max_tokens = v.size();
  r = run(o, v);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.text(), " Hi there");           // the control token renders as nothing
  EXPECT_EQ(r.text_tokens, v.size());

  // stop_token_ids end generation even with ignore_eos.
  o.stop_token_ids = {v[before_eos + 1]};
  r = run(o, v);
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text(), " Hi");
  EXPECT_EQ(r.pushed, before_eos + 2);
}

TEST_F(OutputProcessorTest, MaxTokensAndContextEndWithLength) {
  const auto v = ids("a b c d e f g h");
  ASSERT_GE(v.size(), 6u);
  GenerationOptions o;
  o.max_tokens = 3;
  Run r = run(o, v);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.pushed, 3u);
  EXPECT_EQ(r.text(), pieces({v.begin(), v.begin() + 3}));

  // A 10-token prompt in a 12-position context: the second token is the last with a position.
  o.max_tokens = 100;
  r = run(o, v, 10, 12);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.pushed, 2u);
}

TEST_F(OutputProcessorTest, ConstraintDoneStops) {
  GenerationOptions o;
  OutputProcessor p(o, *tok_, 1, 100);
  const auto v = ids("ok");
  for (size_t i = 0; i + 1 < v.size(); ++i) EXPECT_FALSE(p.push(v[i], false).finish);
  const TokenOutput out = p.push(v.back(), true);
  EXPECT_EQ(out.finish, FinishReason::Stop);
  EXPECT_TRUE(out.text_token);
}

TEST_F(OutputProcessorTest, Utf8SplitAcrossTokensIsHeldBack) {
  // "é" is C3 A9: two byte tokens.
  GenerationOptions o;
  OutputProcessor p(o, *tok_, 1, 100);
  TokenOutput first = p.push(byte(0xC3), false);
  EXPECT_EQ(first.text, "");
  EXPECT_TRUE(first.text_token);
  EXPECT_FALSE(first.finish);
  EXPECT_EQ(p.push(byte(0xA9), false).text, "\xC3\xA9");

  // An unfinished character at the end comes out as U+FFFD.
  OutputProcessor q(o, *tok_, 1, 100);
  EXPECT_EQ(q.push(byte(0xC3), false).text, "");
  EXPECT_EQ(q.flush(), "\xEF\xBF\xBD");
}

TEST_F(OutputProcessorTest, FlushKeepsHeldBackTextInOrder) {
  // At the end both a partial stop match ("ab") and an unfinished character are held back:
  // the stop matcher's text comes first.
  GenerationOptions o;
  o.stop = {"ab\xC3\xA9"};
  auto v = ids("ab");
  v.push_back(byte(0xC3));
  o.max_tokens = v.size();
  const Run r = run(o, v);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.streamed, " ");
  EXPECT_EQ(r.flushed, "ab\xEF\xBF\xBD");
}

}  // namespace
}  // namespace ragd::engine
