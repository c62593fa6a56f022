// BERT conversion (Hugging Face checkpoint → GGUF in llama.cpp's layout) and the encoder's
// forward pass, on a tiny random-weight checkpoint checked against a naive double-precision
// forward (tiny_bert.h). The real all-MiniLM-L6-v2 is compared with an independent numpy
// implementation by tests/app/embed_reference_test.sh.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "kernels/thread_pool.h"
#include "model/bert_model.h"
#include "model/convert_bert.h"
#include "model/gguf.h"
#include "model/hf_bert_vocab.h"
#include "model/tokenizer.h"
#include "tiny_bert.h"
#include "util/error.h"

namespace ragd::model {
namespace {

using kernels::TensorType;
using ragd::testing::ScratchDir;
using ragd::testing::TinyBert;

std::string convert(const ScratchDir& dir, TensorType type = TensorType::F32,
                    const std::string& out_name = "tiny.gguf") {
  ConvertBertOptions o;
  o.type = type;
  o.threads = 2;
  convert_bert((dir.path() / "ckpt").string(), dir / out_name, o);
  return dir / out_name;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::vector<int32_t>> sample_sequences() {
  // [CLS]=2 [SEP]=3; lengths 1..16 (n_ctx) so that batches mix very different lengths.
  return {{2, 5, 6, 3}, {2, 7, 8, 12, 9, 10, 7, 11, 15, 3}, {2, 3}, {5},
          {2, 16, 17, 13, 8, 14, 5, 6, 7, 8, 9, 10, 11, 12, 13, 3}};
}

std::vector<std::vector<float>> run(BertModel& m, const std::vector<std::vector<int32_t>>& seqs) {
  std::vector<std::span<const int32_t>> spans(seqs.begin(), seqs.end());
  std::vector<float> out(seqs.size() * m.dim());
  m.embed(spans, out.data());
  std::vector<std::vector<float>> rows;
  for (size_t i = 0; i < seqs.size(); ++i) {
    rows.emplace_back(out.begin() + i * m.dim(), out.begin() + (i + 1) * m.dim());
  }
  return rows;
}

TEST(BertConvert, WritesLlamaCppLayout) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  auto f = GgufFile::open(convert(dir));
  EXPECT_EQ(f->architecture(), "bert");
  EXPECT_EQ(f->get_string("general.name"), "ckpt");
  EXPECT_EQ(f->get_uint("bert.embedding_length"), 32u);
  EXPECT_EQ(f->get_uint("bert.block_count"), 2u);
  EXPECT_EQ(f->get_uint("bert.attention.head_count"), 4u);
  EXPECT_EQ(f->get_uint("bert.feed_forward_length"), 64u);
  EXPECT_EQ(f->get_uint("bert.context_length"), 16u);
  EXPECT_FLOAT_EQ(f->get_float("bert.attention.layer_norm_epsilon"), 1e-12f);
  EXPECT_FALSE(f->get_bool("bert.attention.causal"));
  EXPECT_EQ(f->get_uint("bert.pooling_type"), 1u);
  EXPECT_EQ(f->get_uint("general.file_type"), 0u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "bert");
  EXPECT_EQ(f->get_uint("tokenizer.ggml.token_type_count"), 2u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.cls_token_id"), 2u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.seperator_token_id"), 3u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.unknown_token_id"), 1u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.padding_token_id"), 0u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.mask_token_id"), 4u);
  const auto& tokens = f->get_array("tokenizer.ggml.tokens").strings;
  EXPECT_EQ(tokens[2], "[CLS]");
  EXPECT_EQ(tokens[5], "\xE2\x96\x81hello");  // word start: phantom space
  EXPECT_EQ(tokens[12], "s");                 // "##s": continuation, prefix dropped
  const auto types = f->get_array("tokenizer.ggml.token_type").as<int32_t>();
  EXPECT_EQ(types[0], 3);  // special added tokens are CONTROL
  EXPECT_EQ(types[5], 1);
  EXPECT_EQ(f->tensors().size(), 5u + 2 * 16);
  EXPECT_EQ(f->tensors()[0].name, "token_embd.weight");
  EXPECT_EQ(f->tensor("token_embd.weight").dims, (std::vector<uint64_t>{32, 18}));
  EXPECT_EQ(f->tensor("blk.1.ffn_up.weight").dims, (std::vector<uint64_t>{32, 64}));
  EXPECT_EQ(f->tensor("blk.1.ffn_down.weight").dims, (std::vector<uint64_t>{64, 32}));
  EXPECT_NE(f->find_tensor("blk.0.attn_output_norm.bias"), nullptr);
  EXPECT_NE(f->find_tensor("blk.0.layer_output_norm.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("pooler.dense.weight"), nullptr);
}

TEST(BertConvert, TypesFollowLlamaCppAndOutputIsDeterministic) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  auto f = GgufFile::open(convert(dir, TensorType::Q8_0));
  EXPECT_EQ(f->get_uint("general.file_type"), 7u);
  EXPECT_EQ(f->tensor("token_embd.weight").type, TensorType::Q8_0);
  EXPECT_EQ(f->tensor("blk.0.attn_q.weight").type, TensorType::Q8_0);
  EXPECT_EQ(f->tensor("blk.0.attn_q.bias").type, TensorType::F32);
  EXPECT_EQ(f->tensor("position_embd.weight").type, TensorType::F32);
  EXPECT_EQ(f->tensor("token_types.weight").type, TensorType::F32);
  EXPECT_EQ(f->tensor("token_embd_norm.weight").type, TensorType::F32);
  const std::string a = read_all(convert(dir, TensorType::F16, "a.gguf"));
  const std::string b = read_all(convert(dir, TensorType::F16, "b.gguf"));
  EXPECT_EQ(a, b);
}

TEST(BertConvert, TokenizerOfConvertedVocabMatchesWordPiece) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  auto f = GgufFile::open(convert(dir));
  auto tok = Tokenizer::from_gguf(*f);
  // HF BertTokenizer: lowercase, split punctuation, greedy longest-match word pieces.
  EXPECT_EQ(tok->encode("Hello, the CATS sat on a mat.", true, false),
            (std::vector<int32_t>{2, 5, 14, 7, 8, 12, 9, 10, 13, 11, 15, 3}));
  EXPECT_EQ(tok->encode("doggy zebra", true, false), (std::vector<int32_t>{2, 16, 17, 1, 3}));
}

TEST(BertConvert, RejectsUnsupportedCheckpoints) {
  ScratchDir dir;
  TinyBert tb;
  const auto ckpt = dir.path() / "ckpt";
  tb.write(ckpt);
  ConvertBertOptions o;
  auto expect_error = [&](const std::string& what) {
    try {
      convert_bert(ckpt.string(), dir / "bad.gguf", o);
      FAIL() << "no error; expected '" << what << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  o.type = TensorType::Q4_K;
  expect_error("not supported");
  o.type = TensorType::F32;
  const std::string tok = read_all((ckpt / "tokenizer.json").string());
  std::string cased = tok;
  cased.replace(cased.find("\"lowercase\":true"), 16, "\"lowercase\":false");
  ragd::testing::write_file(ckpt / "tokenizer.json", cased);
  expect_error("cased");
  ragd::testing::write_file(ckpt / "tokenizer.json", tok);
  const std::string cfg = read_all((ckpt / "config.json").string());
  std::string act = cfg;
  act.replace(act.find("\"gelu\""), 6, "\"relu\"");
  ragd::testing::write_file(ckpt / "config.json", act);
  expect_error("hidden_act");
  std::string layers = cfg;
  layers.replace(layers.find("\"num_hidden_layers\":2"), 21, "\"num_hidden_layers\":1");
  ragd::testing::write_file(ckpt / "config.json", layers);
  expect_error("not used by a 1-layer BERT");
  std::filesystem::remove(ckpt / "config.json");
  expect_error("cannot read");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "bad.gguf"));
}

TEST(BertConvert, VocabWithGapsAndVocabTxt) {
  ScratchDir dir;
  ragd::testing::write_file(dir.path() / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n");
  HfBertVocab v = read_hf_bert_vocab(dir.path().string(), 8);
  ASSERT_EQ(v.tokens.size(), 8u);
  EXPECT_EQ(v.tokens[7], "[PAD7]");
  EXPECT_EQ(v.token_types[7], 5);  // UNUSED
  EXPECT_EQ(v.token_types[2], 3);  // [CLS] is CONTROL
  EXPECT_EQ(v.token_types[4], 1);
  EXPECT_EQ(v.cls_id, 2);
  EXPECT_EQ(v.mask_id, -1);
  EXPECT_EQ(gguf_wordpiece_token("hello"), "\xE2\x96\x81hello");
  EXPECT_EQ(gguf_wordpiece_token("##s"), "s");
  EXPECT_EQ(gguf_wordpiece_token("[SEP]"), "[SEP]");
}

TEST(BertModel, MatchesNaiveForwardInOneBatch) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  kernels::ThreadPool pool(2);
  BertModel m(GgufFile::open(convert(dir)), pool);
  EXPECT_EQ(m.config().pooling, BertPooling::Mean);
  const auto seqs = sample_sequences();
  const auto batched = run(m, seqs);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto want = tb.reference(seqs[i]);
    EXPECT_GT(ragd::testing::cosine(batched[i], want), 1 - 1e-6) << "sequence " << i;
    for (size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(batched[i][e], want[e], 2e-5);
    // Alone or in a batch: the same vector (no padding leaks between sequences).
    const auto alone = run(m, {seqs[i]});
    for (size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(alone[0][e], batched[i][e], 1e-5);
  }
  m.set_reference_mode(true);
  const auto ref = run(m, seqs);
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_GT(ragd::testing::cosine(ref[i], tb.reference(seqs[i])), 1 - 1e-6);
  }
}

TEST(BertModel, ClsPoolingAndHalfSourceWeights) {
  ScratchDir dir;
  TinyBert tb;
  tb.cls_pooling = true;
  tb.write(dir.path() / "ckpt", "BF16");
  kernels::ThreadPool pool(2);
  BertModel m(GgufFile::open(convert(dir)), pool);
  EXPECT_EQ(m.config().pooling, BertPooling::Cls);
  const auto seqs = sample_sequences();
  const auto got = run(m, seqs);
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_GT(ragd::testing::cosine(got[i], tb.reference(seqs[i])), 1 - 1e-6) << i;
  }
}

TEST(BertModel, QuantizedWeightsStayClose) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  kernels::ThreadPool pool(2);
  const auto seqs = sample_sequences();
  for (auto [type, min_cos] : {std::pair{TensorType::F16, 0.9999}, {TensorType::Q8_0, 0.995}}) {
    BertModel m(GgufFile::open(convert(dir, type, "q.gguf")), pool);
    const auto got = run(m, seqs);
    for (size_t i = 0; i < seqs.size(); ++i) {
      EXPECT_GT(ragd::testing::cosine(got[i], tb.reference(seqs[i])), min_cos)
          << kernels::type_name(type) << " sequence " << i;
    }
  }
}

TEST(BertModel, RejectsInvalidSequences) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  kernels::ThreadPool pool(1);
  BertModel m(GgufFile::open(convert(dir)), pool);
  std::vector<float> out(m.dim());
  const std::vector<int32_t> empty, bad_id = {2, 99, 3}, too_long(17, 5);
  for (const auto* s : {&empty, &bad_id, &too_long}) {
    std::span<const int32_t> one(*s);
    EXPECT_THROW(m.embed({&one, 1}, out.data()), Error);
  }
  // Not a BERT file.
  EXPECT_THROW(BertModel(GgufFile::open(RAGD_SHARED_DIR "/models/stories260K.gguf"), pool), Error);
}

}  // namespace
}  // namespace ragd::model
