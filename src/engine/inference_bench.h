// Inference benchmark in the manner of llama-bench: prompt processing of P random tokens
// (pp), then generation of G tokens one at a time from an empty context (tg), each
// repeated R times; plus batched decode of S sequences stepping together.
// It measures; it asserts nothing.
#pragma once

#include <string>
#include <vector>

#include "engine/llm.h"
#include "kernels/attention.h"

namespace ragd::engine {

struct InferenceBenchOptions {
  size_t prompt_tokens = 512;
  size_t gen_tokens = 128;
  size_t repetitions = 3;
  std::vector<size_t> batch_sizes;  // batched decode runs (e.g. 16, 32); empty: none
  size_t batch_gen_tokens = 32;     // decode steps per batched run
  kernels::KvType kv_type = kernels::KvType::F16;  // as the server's scheduler
  uint64_t seed = 42;
};

struct InferenceBenchResult {
  std::string model;
  std::string type;       // quantization_name(): "q4_k_m", "q4_1", ...
  double model_mib = 0.0;  // tensor bytes
  size_t threads = 0;
  double pp_tokens_per_s = 0.0;  // mean over repetitions
  double pp_stddev = 0.0;
  double tg_tokens_per_s = 0.0;
  double tg_stddev = 0.0;
  double ms_per_token_p50 = 0.0;  // generation steps
  double ms_per_token_p95 = 0.0;
  double ms_per_token_max = 0.0;
  double peak_rss_mib = 0.0;
  struct Batched {
    size_t sequences;
    double tokens_per_s;  // aggregate over all sequences
  };
  std::vector<Batched> batched;
};

InferenceBenchResult run_inference_bench(Llm& llm, const std::string& label,
                                         const InferenceBenchOptions& options);

// Peak resident set size of this process so far, in MiB.
double peak_rss_mib();

}  // namespace ragd::engine
