// Architectures that no registry ships a small file of (Qwen3, Llama 3.x, Phi-3, Gemma 2)
// checked against llama.cpp on random-weight files of their real shapes. Each case
// regenerates its file with `ragd synth`'s generator (model/synth_model.h: deterministic by
// seed, F32, 2 layers, a real tokenizer: llama.cpp's models/ggml-vocab-*.gguf, for Gemma 2
// the installed Gemma-3-270M file's) and compares
// with a golden that tests/tools/llama_golden.py recorded from llama-server on the same
// file (tests/engine/data/*-synth-f32.json; the command is in docs/models.md).
//
// What is asserted, per prompt, with ragd fed llama.cpp's 40 greedy tokens (teacher forcing):
//   - the prompt's token ids are llama.cpp's;
//   - llama.cpp's top-5 tokens get log-probabilities within the case's tolerance;
//   - ragd's greedy choice is llama.cpp's wherever llama.cpp's lead over its second choice
//     is over clear_margin (> 2 x tolerance: agreement within the tolerance cannot flip it).
// Random weights give flat distributions (the top token ~-9.3 nats over 150k tokens), so
// some steps are near-ties that any rounding decides; the others must agree, and prompts
// whose first 32+ tokens are all clear choices are counted: on them free-running greedy
// decoding gives llama.cpp's tokens.
//
// Skips a case when its vocabulary is absent (scripts/fetch-vocab, run by scripts/setup).
// The files are 0.7 to 2.8 GiB (real embedding sizes in F32): the first four cases take
// ~2.5 min on 2 cores, the soft-capped Gemma 2 one ~1 min more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "engine/generator.h"
#include "engine/llm.h"
#include "log_softmax.h"
#include "model/quant_plan.h"
#include "model/synth_model.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(RAGD_SOURCE_DIR) / "tests" / "engine" / "data";

struct SynthCase {
  const char* synth_arch;  // model::synth_archs() name
  const char* gguf_arch;   // general.architecture ragd must read
  uint32_t layers;
  uint64_t seed;
  const char* vocab;   // GGUF whose tokenizer the file gets, relative to the source tree
  const char* golden;  // under tests/engine/data
  // Largest |ragd - llama.cpp| top-5 log-probability allowed. What is left between the
  // two on F32 weights is llama.cpp's f16 KV cache and summation order.
  double tolerance;
  // Greedy choices are compared where llama.cpp's lead over its second choice exceeds this
  // (over twice the tolerance, so differences within it cannot flip the choice).
  double clear_margin;
  size_t min_long_prefixes;  // prompts whose first 32+ greedy tokens are clear choices
  // A soft-capped variant of the architecture (0: the architecture's caps) and the suffix
  // of its test name.
  float attn_softcap = 0.0f;
  const char* variant = "";
};

std::ostream& operator<<(std::ostream& os, const SynthCase& c) {
  return os << c.synth_arch << c.variant;
}

const SynthCase kCases[] = {
    // Qwen3-0.6B's shape (head_dim 128 > n_embd / n_head, q/k norms, no q/k/v bias).
    // Measured: worst top-5 difference 0.00095; 196 of 199 steps clear; 2 of 5 prompts
    // with 32+ clear greedy tokens.
    {"qwen3-0.6b", "qwen3", 2, 7, "models/vocab/ggml-vocab-qwen2.gguf",
     "qwen3-0.6b-synth-f32.json", 0.002, 0.005, 2},
    // Llama-3.2-1B's shape: llama with the "llama3" RoPE scaling's rope_freqs.weight, the
    // llama-bpe pre-tokenizer, head_dim keys, tied embeddings.
    // Measured: worst top-5 difference 0.0017; 191 of 197 steps clear; 3 of 5 prompts with
    // 32+ clear greedy tokens.
    {"llama-3.2-1b", "llama", 2, 7, "models/vocab/ggml-vocab-llama-bpe.gguf",
     "llama-3.2-1b-synth-f32.json", 0.003, 0.007, 3},
    // Phi-3-mini-4k's shape: fused attn_qkv and ffn_up (gate | up), NeoX RoPE, untied
    // output, a sliding_window key that llama.cpp (and ragd) ignore.
    // Measured: worst top-5 difference 0.0030; 195 of 200 steps clear; 4 of 5 prompts with
    // 32+ clear greedy tokens.
    {"phi-3-mini-4k", "phi3", 2, 7, "models/vocab/ggml-vocab-phi-3.gguf",
     "phi-3-mini-4k-synth-f32.json", 0.005, 0.011, 3},
    // Gemma-2-2B's shape (attention and final logit soft-capping, post-norms, sliding
    // window on even layers, query_pre_attn_scalar 256) with Gemma 3's 262,144-token
    // vocabulary (llama.cpp ships no Gemma 2 one; the installed Gemma-3-270M file's).
    // Random weights under the sqrt(n_embd) embedding scale make it repeat its last token,
    // with peaked distributions; attention scores stay ~1, where a cap of 50 changes them
    // by < 1e-3 (ignoring that cap still passes: worst 0.0052), so this checks the
    // soft-capped attention's softmax and sums, the final soft-cap and the layer, not the
    // attention cap's tanh (the next case does). The final cap is reached: the repeated
    // token's raw logit is ~21 against the cap of 30, and ignoring the cap fails with a
    // worst difference of 3.0. Measured: worst top-5 difference 0.0050; 200 of 200 steps
    // clear; 5 of 5 prompts with 40 identical tokens.
    {"gemma-2-2b", "gemma2", 2, 7, "models/Gemma-3-270M.Q4_K_M.gguf",
     "gemma-2-2b-synth-f32.json", 0.01, 0.021, 5},
    // The same weights with attn_logit_softcapping 0.5 (`ragd synth --attn-softcap 0.5`), so
    // that the attention cap's tanh is exercised: 58% of the scaled scores exceed the cap,
    // 27% twice it, the largest (3.8) 7.7 times it. Two prompts (19 and 16 tokens), as the
    // cap acts on every step's scores. It fails (worst top-5 difference in parentheses) when
    // the cap is ignored (1.05), when the tanh is not multiplied back by the cap (0.59),
    // when the cap is applied before the 1/sqrt(query_pre_attn_scalar) scaling (0.67), and
    // when the final cap is ignored (2.5). Measured: worst 0.0047; 80 of 80 steps clear;
    // 2 of 2 prompts with 40 identical tokens.
    {"gemma-2-2b", "gemma2", 2, 7, "models/Gemma-3-270M.Q4_K_M.gguf",
     "gemma-2-2b-attncap0.5-synth-f32.json", 0.01, 0.021, 2, 0.5f, "-attncap0.5"},
};

class SynthGolden : public ::testing::TestWithParam<SynthCase> {};

TEST_P(SynthGolden, MatchesLlamaCpp) {
  const SynthCase& sc = GetParam();
  const fs::path vocab = fs::path(RAGD_SOURCE_DIR) / sc.vocab;
  if (!fs::exists(vocab)) {
    GTEST_SKIP() << vocab << " not found (scripts/fetch-vocab; the Gemma vocabulary comes "
                 << "from 'ragd pull gemma3-270m')";
  }
  std::ifstream in(kData / sc.golden);
  ASSERT_TRUE(in) << "missing golden file " << kData / sc.golden;
  const auto golden = nlohmann::json::parse(in);

  const fs::path dir = fs::temp_directory_path() /
                       ("ragd-synth-golden-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string file =
      (dir / (std::string(sc.synth_arch) + sc.variant + ".gguf")).string();
  model::SynthOptions o;
  o.arch = sc.synth_arch;
  o.target = *model::parse_quant_target("f32");
  o.pure = true;
  o.vocab_path = vocab.string();
  o.seed = sc.seed;
  o.layers = sc.layers;
  o.threads = 2;
  if (sc.attn_softcap > 0.0f) o.attn_softcap = sc.attn_softcap;
  model::synth_model(file, o);
  auto llm = Llm::load(file, 2);
  fs::remove_all(dir);  // the mapping keeps the data until unloaded
  EXPECT_EQ(llm->model->config().arch, sc.gguf_arch);
  EXPECT_EQ(llm->model->config().n_layer, sc.layers);
  if (sc.attn_softcap > 0.0f) {
    EXPECT_EQ(llm->model->config().attn_logit_softcap, sc.attn_softcap);
  }

  Generator gen(*llm->model, *llm->tokenizer, 2048);
  double worst = 0.0;
  size_t clear = 0, compared = 0, long_prefixes = 0;
  for (const auto& c : golden["cases"]) {
    const auto prompt = c["prompt_tokens_with_bos"].get<std::vector<int32_t>>();
    EXPECT_EQ(llm->tokenizer->encode(c["prompt"].get<std::string>(), true, false), prompt)
        << c["prompt"];
    const auto expected = c["greedy_tokens"].get<std::vector<int32_t>>();
    const auto& steps = c["steps"];
    ASSERT_GE(expected.size(), 32u);
    // llama-server reports no probabilities for a token that ends inside a UTF-8 sequence
    // (it is held back until complete): steps are matched to tokens by id, and such tokens
    // are fed without a comparison.
    ASSERT_GE(steps.size() + 3, expected.size()) << c["prompt"];
    gen.reset();
    auto logits = gen.evaluate(prompt);
    size_t k = 0, clear_prefix = 0;
    bool prefix_open = true;
    for (size_t step = 0; step < expected.size(); ++step) {
      if (k < steps.size() && steps[k]["id"].get<int32_t>() == expected[step]) {
        const auto lp = golden::log_softmax(logits);
        const auto& top = steps[k++]["top"];
        for (const auto& t : top) {
          const double diff = std::fabs(lp[t[0].get<int32_t>()] - t[1].get<double>());
          worst = std::max(worst, diff);
          EXPECT_LE(diff, sc.tolerance) << c["prompt"] << " step " << step << " token " << t[0];
        }
        ++compared;
        if (top[0][1].get<double>() - top[1][1].get<double>() > sc.clear_margin) {
          ++clear;
          clear_prefix += prefix_open;
          EXPECT_EQ(argmax(logits), expected[step]) << c["prompt"] << " step " << step;
        } else {
          prefix_open = false;
        }
      } else {
        prefix_open = false;
      }
      const int32_t id = expected[step];  // teacher forcing: llama.cpp's token
      logits = gen.evaluate({&id, 1});
    }
    EXPECT_EQ(k, steps.size()) << c["prompt"] << ": golden steps left unmatched";
    long_prefixes += clear_prefix >= 32;
  }
  // Enough clear choices for the agreement to mean something, and prompts whose first 32+
  // greedy tokens are all clear choices: on those, free-running greedy decoding gives
  // llama.cpp's tokens (each choice agreed, given the same earlier tokens).
  EXPECT_GE(clear, compared * 9 / 10);
  EXPECT_GE(long_prefixes, sc.min_long_prefixes);
  std::printf("%s%s: worst top-5 logprob difference %.5f (tolerance %.3f); %zu of %zu steps "
              "clear (lead > %.3f), all identical; %zu prompts with 32+ clear greedy tokens\n",
              sc.synth_arch, sc.variant, worst, sc.tolerance, clear, compared, sc.clear_margin,
              long_prefixes);
}

INSTANTIATE_TEST_SUITE_P(Archs, SynthGolden, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string n =
                               std::string(info.param.synth_arch) + info.param.variant;
                           std::replace_if(n.begin(), n.end(),
                                           [](char ch) { return !std::isalnum(ch); }, '_');
                           return n;
                         });

}  // namespace
}  // namespace ragd::engine
