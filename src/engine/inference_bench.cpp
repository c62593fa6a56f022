#include "engine/inference_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "engine/model_store.h"
#include "model/kv_cache.h"
#include "util/timing.h"

namespace ragd::engine {
namespace {

constexpr size_t kBlockTokens = 16;

struct MeanStd {
  double mean = 0.0, stddev = 0.0;
};
MeanStd mean_std(const std::vector<double>& v) {
  MeanStd r;
  if (v.empty()) return r;
  r.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double sq = 0.0;
  for (double x : v) sq += (x - r.mean) * (x - r.mean);
  r.stddev = v.size() > 1 ? std::sqrt(sq / (v.size() - 1)) : 0.0;
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(i, 1, v.size()) - 1];
}

std::vector<int32_t> random_tokens(size_t n, size_t vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

// Decodes `steps` tokens for each of `n_seq` sequences stepping together; returns
// aggregate tokens/s. Each sequence starts from a one-token prompt.
double batched_decode(model::LlamaModel& m, size_t n_seq, size_t steps, kernels::KvType kv_type,
                      std::mt19937_64& rng) {
  const size_t blocks_per_seq = (steps + 1 + kBlockTokens - 1) / kBlockTokens;
  auto cache = m.make_cache(kBlockTokens, n_seq * blocks_per_seq, kv_type);
  std::vector<std::vector<uint32_t>> tables(n_seq);
  for (size_t s = 0; s < n_seq; ++s) {
    for (size_t b = 0; b < blocks_per_seq; ++b) tables[s].push_back(s * blocks_per_seq + b);
  }
  std::vector<int32_t> tokens = random_tokens(n_seq, m.config().n_vocab, rng);
  std::vector<model::SequenceBatch> batch(n_seq);
  std::vector<float> logits;
  Stopwatch clock;
  for (size_t step = 0; step < steps; ++step) {
    for (size_t s = 0; s < n_seq; ++s) batch[s] = {{&tokens[s], 1}, step, tables[s], false};
    m.forward(batch, *cache, logits);
    for (size_t s = 0; s < n_seq; ++s) {
      tokens[s] = static_cast<int32_t>(
          std::max_element(logits.begin() + s * m.config().n_vocab,
                           logits.begin() + (s + 1) * m.config().n_vocab) -
          (logits.begin() + s * m.config().n_vocab));
    }
  }
  return static_cast<double>(n_seq * steps) / clock.seconds();
}

}  // namespace

double peak_rss_mib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // Linux reports KiB
}

InferenceBenchResult run_inference_bench(Llm& llm, const std::string& label,
                                         const InferenceBenchOptions& o) {
  auto& m = *llm.model;
  InferenceBenchResult r;
  r.model = label;
  r.type = quantization_name(*llm.file);
  for (const auto& t : llm.file->tensors()) r.model_mib += t.n_bytes / 1048576.0;
  r.threads = llm.pool->size();
  std::mt19937_64 rng(o.seed);
  const size_t ctx = std::max(o.prompt_tokens, o.gen_tokens) + 1;
  auto cache = m.make_cache(kBlockTokens, (ctx + kBlockTokens - 1) / kBlockTokens, o.kv_type);
  std::vector<uint32_t> table((ctx + kBlockTokens - 1) / kBlockTokens);
  std::iota(table.begin(), table.end(), 0u);
  std::vector<float> logits;

  // One untimed warm-up pass faults the weights in and sizes the scratch buffers.
  auto warm = random_tokens(std::min<size_t>(o.prompt_tokens, 16) + 1, m.config().n_vocab, rng);
  model::SequenceBatch wb{warm, 0, table, false};
  m.forward({&wb, 1}, *cache, logits);

  std::vector<double> pp, tg, steps;
  for (size_t rep = 0; rep < o.repetitions; ++rep) {
    if (o.prompt_tokens > 0) {
      auto prompt = random_tokens(o.prompt_tokens, m.config().n_vocab, rng);
      model::SequenceBatch b{prompt, 0, table, false};
      Stopwatch clock;
      m.forward({&b, 1}, *cache, logits);
      pp.push_back(o.prompt_tokens / clock.seconds());
    }
    if (o.gen_tokens > 0) {
      int32_t token = random_tokens(1, m.config().n_vocab, rng)[0];
      Stopwatch clock;
      for (size_t i = 0; i < o.gen_tokens; ++i) {
        Stopwatch step;
        model::SequenceBatch b{{&token, 1}, i, table, false};
        m.forward({&b, 1}, *cache, logits);
        token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        steps.push_back(step.millis());
      }
      tg.push_back(o.gen_tokens / clock.seconds());
    }
  }
  auto pps = mean_std(pp), tgs = mean_std(tg);
  r.pp_tokens_per_s = pps.mean;
  r.pp_stddev = pps.stddev;
  r.tg_tokens_per_s = tgs.mean;
  r.tg_stddev = tgs.stddev;
  r.ms_per_token_p50 = percentile(steps, 50);
  r.ms_per_token_p95 = percentile(steps, 95);
  r.ms_per_token_max = steps.empty() ? 0.0 : *std::max_element(steps.begin(), steps.end());
  for (size_t n : o.batch_sizes) {
    r.batched.push_back({n, batched_decode(m, n, o.batch_gen_tokens, o.kv_type, rng)});
  }
  r.peak_rss_mib = peak_rss_mib();
  return r;
}

}  // namespace ragd::engine
