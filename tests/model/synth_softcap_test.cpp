// SynthOptions' soft-cap overrides (`ragd synth --attn-softcap / --final-softcap`), which
// give the attention-capped Gemma 2 golden case (tests/engine/synthetic_golden_test.cpp) its
// file: the override reaches the GGUF keys llama.cpp reads, and what llama.cpp could not
// load (a cap on an architecture without one, a cap <= 0 it would divide by) is refused
// before anything is written.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "gguf_test_util.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace ragd::model {
namespace {

// A 16-token vocabulary keeps the 1-layer Gemma-2-2B-shaped file small (Q4_0: ~45 MB).
std::string write_tiny_vocab(const testing::TempDir& dir) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 16; ++i) tokens.push_back(fmt::format("t{}", i));
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  const std::string path = dir.file("vocab.gguf");
  w.write(path);
  return path;
}

SynthOptions options(const std::string& arch, const std::string& vocab) {
  SynthOptions o;
  o.arch = arch;
  o.vocab_path = vocab;
  o.target = *parse_quant_target("q4_0");
  o.pure = true;
  o.layers = 1;
  o.seed = 7;
  o.threads = 2;
  return o;
}

TEST(SynthSoftcap, OverridesReachTheFileKeys) {
  testing::TempDir dir("ragd-synth-softcap");
  const std::string vocab = write_tiny_vocab(dir), out = dir.file("g2.gguf");
  SynthOptions o = options("gemma-2-2b", vocab);
  o.attn_softcap = 0.5f;
  const SynthReport r = synth_model(out, o);
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_float("gemma2.attn_logit_softcapping"), 0.5);
  EXPECT_EQ(f->get_float("gemma2.final_logit_softcapping"), 30.0);  // the architecture's
  bool noted = false;
  for (const auto& n : r.notes) noted |= n.find("soft-caps: attention 0.5") != std::string::npos;
  EXPECT_TRUE(noted) << "the report does not say the caps differ from the architecture's";

  o.attn_softcap.reset();
  o.final_softcap = 12.0f;
  synth_model(out, o);
  f = GgufFile::open(out);
  EXPECT_EQ(f->get_float("gemma2.attn_logit_softcapping"), 50.0);
  EXPECT_EQ(f->get_float("gemma2.final_logit_softcapping"), 12.0);
}

TEST(SynthSoftcap, RefusesWhatLlamaCppCannotLoad) {
  testing::TempDir dir("ragd-synth-softcap");
  const std::string vocab = write_tiny_vocab(dir), out = dir.file("bad.gguf");
  const auto refused = [&](SynthOptions o, const std::string& expected) {
    try {
      synth_model(out, o);
      ADD_FAILURE() << "accepted; expected: " << expected;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(out));
  };
  SynthOptions o = options("smollm2-135m", vocab);
  o.attn_softcap = 1.0f;
  refused(o, "smollm2-135m has no attn_logit_softcapping");
  o = options("qwen3-0.6b", vocab);
  o.final_softcap = 1.0f;
  refused(o, "qwen3-0.6b has no final_logit_softcapping");
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    o = options("gemma-2-2b", vocab);
    o.attn_softcap = bad;
    refused(o, "attn_logit_softcapping must be a finite number > 0");
    o = options("gemma-2-2b", vocab);
    o.final_softcap = bad;
    refused(o, "final_logit_softcapping must be a finite number > 0");
  }
}

}  // namespace
}  // namespace ragd::model
