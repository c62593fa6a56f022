// Tests of `ragd quantize`'s library code: llama.cpp's per-tensor type rules, value
// fidelity after quantization, re-quantization, determinism, and the synthetic-model writer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "kernels/quants.h"
#include "model/gguf.h"
#include "gguf_test_util.h"
#include "model/gguf_writer.h"
#include "model/quant_plan.h"
#include "model/quantize_model.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;
using kernels::TensorType;

// The test's own scratch directory.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("ragd-quant") {}
};

QuantTarget target(std::string_view name) {
  auto t = parse_quant_target(name);
  if (!t) throw std::runtime_error("bad target");
  return *t;
}

TensorType choose(const QuantPlanner& p, std::string_view name, std::vector<uint64_t> dims,
                  TensorType current = TensorType::F32) {
  TensorChoice c = p.choose(name, dims, current);
  return c.type;
}

TEST(QuantPlan, ParsesTargetsAndFileTypes) {
  EXPECT_EQ(target("Q4_K_M").ftype, 15u);
  EXPECT_EQ(target("q4_k_m").base, TensorType::Q4_K);
  EXPECT_EQ(target("q8_0").ftype, 7u);
  EXPECT_EQ(target("q4_0").ftype, 2u);
  EXPECT_EQ(target("q4_1").ftype, 3u);
  EXPECT_EQ(target("q5_0").ftype, 8u);
  EXPECT_EQ(target("q5_1").ftype, 9u);
  EXPECT_EQ(target("q4_k").ftype, 14u);
  EXPECT_EQ(target("q5_k").ftype, 16u);
  EXPECT_EQ(target("q6_k").ftype, 18u);
  EXPECT_EQ(target("f16").ftype, 1u);
  EXPECT_EQ(target("bf16").ftype, 32u);
  EXPECT_EQ(target("f32").ftype, 0u);
  EXPECT_FALSE(parse_quant_target("q3_k"));
  EXPECT_FALSE(parse_quant_target(""));
}

TEST(QuantPlan, UseMoreBitsMatchesLlamaCpp) {
  // n = 30: first eighth (0..2), last eighth (26..29), and every third layer from 5.
  std::vector<int> more;
  for (int i = 0; i < 30; ++i) {
    if (use_more_bits(i, 30)) more.push_back(i);
  }
  EXPECT_EQ(more, (std::vector<int>{0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29}));
}

TEST(QuantPlan, SelectsOnlyMatrices) {
  EXPECT_TRUE(QuantPlanner::is_quantizable("blk.0.attn_q.weight", 2));
  EXPECT_TRUE(QuantPlanner::is_quantizable("token_embd.weight", 2));
  EXPECT_FALSE(QuantPlanner::is_quantizable("blk.0.attn_norm.weight", 1));
  EXPECT_FALSE(QuantPlanner::is_quantizable("blk.0.attn_q.bias", 1));
  EXPECT_FALSE(QuantPlanner::is_quantizable("blk.0.ffn_gate_inp.weight", 2));
  EXPECT_FALSE(QuantPlanner::is_quantizable("blk.0.attn_q_norm.weight", 2));
  EXPECT_FALSE(QuantPlanner::is_quantizable("position_embd.weight", 2));
  EXPECT_EQ(tensor_layer("blk.17.ffn_down.weight"), 17);
  EXPECT_EQ(tensor_layer("blk.x.ffn_down.weight"), -1);
  EXPECT_EQ(tensor_layer("output.weight"), -1);
}

// A Llama-3.2-1B-like model: rows of 2048 fit the 256-blocks.
TEST(QuantPlan, Q4KMOnLlama32Shapes) {
  QuantPlanner p(target("q4_k_m"), false, 16, /*has_output=*/false, 16);
  EXPECT_EQ(choose(p, "token_embd.weight", {2048, 128256}), TensorType::Q6_K);  // tied
  EXPECT_EQ(choose(p, "blk.0.attn_q.weight", {2048, 2048}), TensorType::Q4_K);
  EXPECT_EQ(choose(p, "blk.0.attn_v.weight", {2048, 512}), TensorType::Q6_K);
  EXPECT_EQ(choose(p, "blk.3.attn_v.weight", {2048, 512}), TensorType::Q4_K);
  EXPECT_EQ(choose(p, "blk.4.attn_v.weight", {2048, 512}), TensorType::Q6_K);  // (4-2)%3==2
  EXPECT_EQ(choose(p, "blk.15.ffn_down.weight", {8192, 2048}), TensorType::Q6_K);
  EXPECT_EQ(choose(p, "blk.6.ffn_down.weight", {8192, 2048}), TensorType::Q4_K);
  EXPECT_EQ(choose(p, "blk.6.ffn_up.weight", {2048, 8192}), TensorType::Q4_K);
  EXPECT_EQ(choose(p, "blk.6.attn_norm.weight", {2048}), TensorType::F32);
  // With a separate output matrix the embeddings keep the base type.
  QuantPlanner untied(target("q4_k_m"), false, 16, true, 16);
  EXPECT_EQ(choose(untied, "token_embd.weight", {2048, 128256}), TensorType::Q4_K);
  EXPECT_EQ(choose(untied, "output.weight", {2048, 128256}), TensorType::Q6_K);
}

// SmolLM2-135M: rows of 576 do not fit 256-blocks, so llama.cpp's fallbacks apply.
TEST(QuantPlan, FallbacksOnSmolLM2Shapes) {
  QuantPlanner p(target("q4_k_m"), false, 30, false, 30);
  EXPECT_EQ(choose(p, "token_embd.weight", {576, 49152}), TensorType::Q8_0);
  EXPECT_EQ(choose(p, "blk.0.attn_v.weight", {576, 192}), TensorType::Q8_0);   // Q6_K→Q8_0
  EXPECT_EQ(choose(p, "blk.3.attn_q.weight", {576, 576}), TensorType::Q5_0);   // Q4_K→Q5_0
  EXPECT_EQ(choose(p, "blk.0.ffn_down.weight", {1536, 576}), TensorType::Q6_K);
  EXPECT_EQ(choose(p, "blk.3.ffn_down.weight", {1536, 576}), TensorType::Q4_K);
  EXPECT_FALSE(p.choose("blk.3.attn_q.weight", {576, 576}, TensorType::F32).note.empty());
  QuantPlanner q5(target("q5_k"), false, 30, false, 30);
  EXPECT_EQ(choose(q5, "blk.3.attn_q.weight", {576, 576}), TensorType::Q5_1);
  // The real SmolLM2-135M-Instruct.Q4_1.gguf has token_embd in Q8_0: Q6_K does not fit.
  QuantPlanner q41(target("q4_1"), false, 30, false, 30);
  EXPECT_EQ(choose(q41, "token_embd.weight", {576, 49152}), TensorType::Q8_0);
  EXPECT_EQ(choose(q41, "blk.0.attn_q.weight", {576, 576}), TensorType::Q4_1);
  // Legacy types that do not fit fall back to F16 (llama.cpp would refuse).
  QuantPlanner q8(target("q8_0"), false, 5, true, 5);
  EXPECT_EQ(choose(q8, "blk.0.ffn_down.weight", {172, 64}), TensorType::F16);
}

TEST(QuantPlan, PlainTypesPureAndFloats) {
  QuantPlanner q40(target("q4_0"), false, 16, false, 16);
  EXPECT_EQ(choose(q40, "token_embd.weight", {2048, 1000}), TensorType::Q6_K);
  QuantPlanner pure(target("q4_0"), true, 16, false, 16);
  EXPECT_EQ(choose(pure, "token_embd.weight", {2048, 1000}), TensorType::Q4_0);
  QuantPlanner q8(target("q8_0"), false, 16, false, 16);
  EXPECT_EQ(choose(q8, "token_embd.weight", {2048, 1000}), TensorType::Q8_0);
  QuantPlanner q4ks(target("q4_k"), false, 16, true, 16);
  EXPECT_EQ(choose(q4ks, "blk.3.attn_v.weight", {2048, 512}), TensorType::Q5_K);
  EXPECT_EQ(choose(q4ks, "blk.4.attn_v.weight", {2048, 512}), TensorType::Q4_K);
  EXPECT_EQ(choose(q4ks, "blk.1.ffn_down.weight", {8192, 2048}), TensorType::Q5_K);
  EXPECT_EQ(choose(q4ks, "blk.2.ffn_down.weight", {8192, 2048}), TensorType::Q4_K);
  QuantPlanner f16(target("f16"), false, 16, false, 16);
  EXPECT_EQ(choose(f16, "token_embd.weight", {576, 1000}), TensorType::F16);
  EXPECT_EQ(choose(f16, "blk.0.attn_norm.weight", {576}), TensorType::F32);
  // Already the wanted type: copied, not converted.
  EXPECT_FALSE(f16.choose("blk.0.attn_q.weight", {576, 576}, TensorType::F16).convert);
  EXPECT_TRUE(f16.choose("blk.0.attn_q.weight", {576, 576}, TensorType::BF16).convert);
}

// ---- end to end -------------------------------------------------------------------------

std::vector<float> ramp_values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = (static_cast<float>(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
  }
  return v;
}

struct SmallModel {
  std::map<std::string, std::vector<float>> values;
  std::string path;
};

// An F32 llama-like model with rows of 256 (fits every block size).
SmallModel write_small_model(const TempDir& dir) {
  SmallModel m;
  m.path = dir.file("small-f32.gguf");
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> shapes = {
      {"token_embd.weight", {256, 40}},   {"blk.0.attn_norm.weight", {256}},
      {"blk.0.attn_q.weight", {256, 256}}, {"blk.0.attn_v.weight", {256, 64}},
      {"blk.0.ffn_down.weight", {512, 256}}, {"output_norm.weight", {256}},
      {"output.weight", {256, 40}}};
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 1);
  w.set_u32("general.file_type", 0);
  w.set_string("general.name", "small");
  uint32_t seed = 1;
  for (const auto& [name, dims] : shapes) {
    size_t n = 1;
    for (auto d : dims) n *= d;
    m.values[name] = ramp_values(n, seed++);
  }
  for (const auto& [name, dims] : shapes) {
    const auto& v = m.values[name];
    auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
    w.add_tensor(name, TensorType::F32, dims, std::span<const uint8_t>(bytes, v.size() * 4));
  }
  w.write(m.path);
  return m;
}

// Root-mean-square error of `t` (dequantized) against `ref`, relative to ref's RMS.
double relative_rms_error(const GgufTensor& t, const std::vector<float>& ref) {
  std::vector<float> got(t.n_elements);
  const size_t row = t.dims[0], rb = kernels::row_bytes(t.type, row);
  for (uint64_t r = 0; r < t.rows(); ++r) {
    kernels::dequantize_row(t.type, t.data + r * rb, got.data() + r * row, row);
  }
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (got[i] - ref[i]) * double(got[i] - ref[i]);
    norm += ref[i] * double(ref[i]);
  }
  return std::sqrt(err / norm);
}

QuantizeOptions options(std::string_view type, size_t threads = 2) {
  QuantizeOptions o;
  o.target = target(type);
  o.threads = threads;
  return o;
}

TEST(QuantizeModel, Q8_0KeepsValuesClose) {
  TempDir dir;
  SmallModel m = write_small_model(dir);
  const std::string out = dir.file("q8.gguf");
  QuantizeReport r = quantize_model(m.path, out, options("q8_0"));
  EXPECT_EQ(r.n_tensors, 7u);
  EXPECT_EQ(r.n_converted, 5u);
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_uint("general.file_type"), 7u);
  EXPECT_EQ(f->get_uint("general.quantization_version"), 2u);
  EXPECT_EQ(f->get_string("general.name"), "small");
  for (const auto& t : f->tensors()) {
    if (t.dims.size() == 1) {
      EXPECT_EQ(t.type, TensorType::F32) << t.name;
      EXPECT_EQ(std::memcmp(t.data, m.values[t.name].data(), t.n_bytes), 0) << t.name;
      continue;
    }
    EXPECT_EQ(t.type, TensorType::Q8_0) << t.name;
    // 8-bit blocks: error well under 1% of the signal.
    EXPECT_LT(relative_rms_error(t, m.values[t.name]), 0.01) << t.name;
  }
}

TEST(QuantizeModel, Q4KMMixAndRequantization) {
  TempDir dir;
  SmallModel m = write_small_model(dir);
  const std::string out = dir.file("q4km.gguf");
  quantize_model(m.path, out, options("q4_k_m"));
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_uint("general.file_type"), 15u);
  EXPECT_EQ(f->tensor("blk.0.attn_q.weight").type, TensorType::Q4_K);
  EXPECT_EQ(f->tensor("blk.0.attn_v.weight").type, TensorType::Q6_K);   // layer 0 of 1
  EXPECT_EQ(f->tensor("blk.0.ffn_down.weight").type, TensorType::Q6_K);
  EXPECT_EQ(f->tensor("output.weight").type, TensorType::Q6_K);
  EXPECT_EQ(f->tensor("token_embd.weight").type, TensorType::Q4_K);
  EXPECT_LT(relative_rms_error(f->tensor("blk.0.attn_q.weight"), m.values["blk.0.attn_q.weight"]),
            0.12);
  EXPECT_LT(relative_rms_error(f->tensor("output.weight"), m.values["output.weight"]), 0.05);

  // Re-quantizing the Q4_K_M file to Q8_0 stays close to the original F32 values.
  const std::string out2 = dir.file("requant.gguf");
  QuantizeReport r = quantize_model(out, out2, options("q8_0"));
  EXPECT_GT(r.n_requantized, 0u);
  auto g = GgufFile::open(out2);
  EXPECT_EQ(g->tensor("blk.0.attn_q.weight").type, TensorType::Q8_0);
  EXPECT_LT(relative_rms_error(g->tensor("blk.0.attn_q.weight"), m.values["blk.0.attn_q.weight"]),
            0.13);
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(QuantizeModel, OutputDoesNotDependOnThreadCount) {
  TempDir dir;
  SmallModel m = write_small_model(dir);
  quantize_model(m.path, dir.file("t1.gguf"), options("q4_k_m", 1));
  quantize_model(m.path, dir.file("t3.gguf"), options("q4_k_m", 3));
  EXPECT_EQ(read_all(dir.file("t1.gguf")), read_all(dir.file("t3.gguf")));
}

TEST(QuantizeModel, ProgressReachesTheTotal) {
  TempDir dir;
  SmallModel m = write_small_model(dir);
  QuantizeOptions o = options("q8_0");
  uint64_t last_done = 0, total = 0;
  size_t finished = 0;
  o.progress = [&](const WriteProgress& p) {
    EXPECT_GE(p.bytes_done, last_done);
    last_done = p.bytes_done;
    total = p.bytes_total;
    finished += p.tensor_done;
  };
  QuantizeReport r = quantize_model(m.path, dir.file("p.gguf"), o);
  EXPECT_EQ(finished, 7u);
  EXPECT_EQ(last_done, total);
  EXPECT_EQ(total, r.bytes_out);
}

TEST(QuantizeModel, MissingInputIsAnError) {
  TempDir dir;
  EXPECT_THROW(quantize_model(dir.file("nope.gguf"), dir.file("out.gguf"), options("q8_0")),
               Error);
  EXPECT_FALSE(fs::exists(dir.file("out.gguf")));
}

// ---- synthetic models -------------------------------------------------------------------

std::string write_vocab(const TempDir& dir, size_t n_tokens) {
  std::vector<std::string> tokens;
  for (size_t i = 0; i < n_tokens; ++i) tokens.push_back("tok" + std::to_string(i));
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  const std::string path = dir.file("vocab.gguf");
  w.write(path);
  return path;
}

SynthOptions synth_options(std::string arch, std::string vocab, std::string_view type) {
  SynthOptions o;
  o.arch = std::move(arch);
  o.vocab_path = std::move(vocab);
  o.target = target(type);
  o.layers = 1;
  o.seed = 42;
  o.threads = 2;
  return o;
}

TEST(SynthModel, NormalRowsHaveTheRequestedScale) {
  std::vector<float> v(1 << 16);
  synth_normal_row(1, 2, 3, 0.02f, v.data(), v.size());
  double sum = 0, sq = 0;
  for (float x : v) sum += x, sq += double(x) * x;
  const double mean = sum / v.size(), sd = std::sqrt(sq / v.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.0005);
  EXPECT_NEAR(sd, 0.02, 0.0005);
  std::vector<float> again(v.size()), other(v.size());
  synth_normal_row(1, 2, 3, 0.02f, again.data(), again.size());
  synth_normal_row(1, 2, 4, 0.02f, other.data(), other.size());
  EXPECT_EQ(v, again);
  EXPECT_NE(v, other);
}

TEST(SynthModel, SmolLM2ShapesAndMetadata) {
  TempDir dir;
  const std::string vocab = write_vocab(dir, 100);
  const std::string out = dir.file("s.gguf");
  SynthReport r = synth_model(out, synth_options("smollm2-135m", vocab, "f32"));
  EXPECT_EQ(r.n_vocab, 100u);
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->architecture(), "llama");
  EXPECT_EQ(f->get_uint("llama.embedding_length"), 576u);
  EXPECT_EQ(f->get_uint("llama.feed_forward_length"), 1536u);
  EXPECT_EQ(f->get_uint("llama.block_count"), 1u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count"), 9u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count_kv"), 3u);
  EXPECT_EQ(f->get_float("llama.rope.freq_base"), 100000.0);
  EXPECT_EQ(f->get_uint("llama.context_length"), 8192u);
  EXPECT_EQ(f->get_uint("llama.vocab_size"), 100u);
  EXPECT_EQ(f->get_uint("llama.rope.dimension_count"), 64u);
  EXPECT_EQ(f->get_uint("general.file_type"), 0u);
  EXPECT_EQ(f->get_array("tokenizer.ggml.tokens").count, 100u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_FALSE(f->find_tensor("output.weight"));  // tied embeddings
  EXPECT_EQ(f->tensors().size(), 1u + 9u + 1u);
  EXPECT_EQ(f->tensor("token_embd.weight").dims, (std::vector<uint64_t>{576, 100}));
  EXPECT_EQ(f->tensor("blk.0.attn_k.weight").dims, (std::vector<uint64_t>{576, 192}));
  EXPECT_EQ(f->tensor("blk.0.ffn_down.weight").dims, (std::vector<uint64_t>{1536, 576}));
  const GgufTensor& norm = f->tensor("blk.0.attn_norm.weight");
  const float* nv = reinterpret_cast<const float*>(norm.data);
  EXPECT_EQ(nv[0], 1.0f);
  EXPECT_EQ(nv[575], 1.0f);
  const GgufTensor& q = f->tensor("blk.0.attn_q.weight");
  const float* qv = reinterpret_cast<const float*>(q.data);
  double sq = 0;
  for (uint64_t i = 0; i < q.n_elements; ++i) {
    ASSERT_TRUE(std::isfinite(qv[i]));
    sq += double(qv[i]) * qv[i];
  }
  EXPECT_NEAR(std::sqrt(sq / q.n_elements), 0.02, 0.001);
}

TEST(SynthModel, DeterministicPerSeedAndQuantizedLikeQuantize) {
  TempDir dir;
  const std::string vocab = write_vocab(dir, 64);
  SynthOptions o = synth_options("qwen2.5-0.5b", vocab, "q8_0");
  synth_model(dir.file("a.gguf"), o);
  o.threads = 1;
  synth_model(dir.file("b.gguf"), o);
  o.seed = 43;
  synth_model(dir.file("c.gguf"), o);
  EXPECT_EQ(read_all(dir.file("a.gguf")), read_all(dir.file("b.gguf")));
  EXPECT_NE(read_all(dir.file("a.gguf")), read_all(dir.file("c.gguf")));
  auto f = GgufFile::open(dir.file("a.gguf"));
  EXPECT_EQ(f->architecture(), "qwen2");
  EXPECT_EQ(f->get_uint("qwen2.embedding_length"), 896u);
  EXPECT_EQ(f->tensor("blk.0.attn_q.bias").dims, (std::vector<uint64_t>{896}));
  EXPECT_EQ(f->tensor("blk.0.attn_k.bias").type, TensorType::F32);
  EXPECT_EQ(f->tensor("blk.0.attn_q.weight").type, TensorType::Q8_0);
  EXPECT_EQ(f->tensor("token_embd.weight").type, TensorType::Q8_0);
  EXPECT_EQ(f->get_uint("general.file_type"), 7u);
}

TEST(SynthModel, Llama32RopeFactors) {
  const SynthArch* a = find_synth_arch("llama-3.2-1b");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->head_dim(), 64u);
  std::vector<float> f = llama3_rope_factors(*a);
  ASSERT_EQ(f.size(), 32u);
  EXPECT_FLOAT_EQ(f.front(), 1.0f);   // high frequencies are not scaled
  EXPECT_FLOAT_EQ(f.back(), 32.0f);   // low frequencies get the full factor
  for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
}

TEST(SynthModel, BadOptionsAreErrors) {
  TempDir dir;
  const std::string vocab = write_vocab(dir, 10);
  EXPECT_THROW(synth_model(dir.file("x.gguf"), synth_options("gpt-17", vocab, "f32")), Error);
  auto o = synth_options("smollm2-135m", vocab, "f32");
  o.layers = 0;
  EXPECT_THROW(synth_model(dir.file("x.gguf"), o), Error);
  // A file without a vocabulary.
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.write(dir.file("novocab.gguf"));
  EXPECT_THROW(synth_model(dir.file("x.gguf"), synth_options("smollm2-135m",
                                                             dir.file("novocab.gguf"), "f32")),
               Error);
  EXPECT_FALSE(fs::exists(dir.file("x.gguf")));
}

}  // namespace
}  // namespace ragd::model
