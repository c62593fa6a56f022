#include "model/synth_model.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/quantize_model.h"
#include "util/error.h"

namespace ragd::model {
namespace {

constexpr float kWeightStd = 0.02f;  // the usual initializer_range of these models
constexpr uint32_t kMaxLayers = 1024;

// Configurations from each model's published config.json (and llama.cpp's conversion).
const std::vector<SynthArch> kArchs = [] {
  std::vector<SynthArch> v;
  SynthArch smollm;  // HuggingFaceTB/SmolLM2-135M
  smollm.name = "smollm2-135m";
  smollm.arch = "llama";
  smollm.n_embd = 576, smollm.n_ff = 1536, smollm.n_layer = 30;
  smollm.n_head = 9, smollm.n_head_kv = 3, smollm.n_vocab = 49152, smollm.n_ctx = 8192;
  smollm.rope_base = 100000.0f, smollm.rms_eps = 1e-5f;
  smollm.llama_keys = true;
  v.push_back(smollm);

  SynthArch qwen;  // Qwen/Qwen2.5-0.5B
  qwen.name = "qwen2.5-0.5b";
  qwen.arch = "qwen2";
  qwen.n_embd = 896, qwen.n_ff = 4864, qwen.n_layer = 24;
  qwen.n_head = 14, qwen.n_head_kv = 2, qwen.n_vocab = 151936, qwen.n_ctx = 32768;
  qwen.rope_base = 1000000.0f, qwen.rms_eps = 1e-6f;
  qwen.qkv_bias = true;
  v.push_back(qwen);

  SynthArch qwen15 = qwen;  // Qwen/Qwen2.5-1.5B
  qwen15.name = "qwen2.5-1.5b";
  qwen15.n_embd = 1536, qwen15.n_ff = 8960, qwen15.n_layer = 28, qwen15.n_head = 12;
  v.push_back(qwen15);

  SynthArch llama;  // meta-llama/Llama-3.2-1B
  llama.name = "llama-3.2-1b";
  llama.arch = "llama";
  llama.n_embd = 2048, llama.n_ff = 8192, llama.n_layer = 16;
  llama.n_head = 32, llama.n_head_kv = 8, llama.n_vocab = 128256, llama.n_ctx = 131072;
  llama.rope_base = 500000.0f, llama.rms_eps = 1e-5f;
  llama.llama_keys = true, llama.head_dim_keys = true;
  llama.rope_factor = 32.0f;  // rope_scaling: llama3, low 1, high 4, original 8192
  v.push_back(llama);

  SynthArch qwen3;  // Qwen/Qwen3-0.6B: qwen2 without q/k/v biases, with q/k norms
  qwen3.name = "qwen3-0.6b";
  qwen3.arch = "qwen3";
  qwen3.n_embd = 1024, qwen3.n_ff = 3072, qwen3.n_layer = 28;
  qwen3.n_head = 16, qwen3.n_head_kv = 8, qwen3.n_vocab = 151936, qwen3.n_ctx = 40960;
  qwen3.rope_base = 1000000.0f, qwen3.rms_eps = 1e-6f;
  qwen3.head_dim_keys = true, qwen3.head_dim_override = 128;  // q is 2048 wide, n_embd 1024
  qwen3.qk_norm = true;
  v.push_back(qwen3);

  SynthArch phi3;  // microsoft/Phi-3-mini-4k-instruct
  phi3.name = "phi-3-mini-4k";
  phi3.arch = "phi3";
  phi3.n_embd = 3072, phi3.n_ff = 8192, phi3.n_layer = 32;
  phi3.n_head = 32, phi3.n_head_kv = 32, phi3.n_vocab = 32064, phi3.n_ctx = 4096;
  phi3.rope_base = 10000.0f, phi3.rms_eps = 1e-5f;
  phi3.tied = false, phi3.fused = true, phi3.sliding_window = 2047;
  phi3.rope_original_ctx = 4096;
  v.push_back(phi3);

  SynthArch gemma2;  // google/gemma-2-2b
  gemma2.name = "gemma-2-2b";
  gemma2.arch = "gemma2";
  gemma2.n_embd = 2304, gemma2.n_ff = 9216, gemma2.n_layer = 26;
  gemma2.n_head = 8, gemma2.n_head_kv = 4, gemma2.n_vocab = 256000, gemma2.n_ctx = 8192;
  gemma2.rope_base = 10000.0f, gemma2.rms_eps = 1e-6f;
  gemma2.head_dim_keys = true, gemma2.head_dim_override = 256;
  gemma2.post_norms = true, gemma2.attn_softcap = 50.0f, gemma2.final_softcap = 30.0f;
  gemma2.sliding_window = 4096;
  v.push_back(gemma2);
  return v;
}();

enum class Init { Normal, Ones, RopeFreqs };

struct Spec {
  std::string name;
  std::vector<uint64_t> dims;  // dims[0] is the row length
  Init init;
};

// The tensors of llama.cpp's conversion of `a`, with `n_layer` blocks and `n_vocab` tokens.
std::vector<Spec> tensor_specs(const SynthArch& a, uint32_t n_layer, uint32_t n_vocab) {
  const uint64_t e = a.n_embd, q = uint64_t{a.n_head} * a.head_dim(),
                 kv = uint64_t{a.n_head_kv} * a.head_dim(), ff = a.n_ff;
  std::vector<Spec> s;
  s.push_back({"token_embd.weight", {e, n_vocab}, Init::Normal});
  if (a.rope_factor > 0) s.push_back({"rope_freqs.weight", {a.head_dim() / 2}, Init::RopeFreqs});
  for (uint32_t l = 0; l < n_layer; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    s.push_back({p + "attn_norm.weight", {e}, Init::Ones});
    if (a.fused) {
      s.push_back({p + "attn_qkv.weight", {e, q + 2 * kv}, Init::Normal});
    } else {
      s.push_back({p + "attn_q.weight", {e, q}, Init::Normal});
      s.push_back({p + "attn_k.weight", {e, kv}, Init::Normal});
      s.push_back({p + "attn_v.weight", {e, kv}, Init::Normal});
    }
    if (a.qkv_bias) {
      s.push_back({p + "attn_q.bias", {q}, Init::Normal});
      s.push_back({p + "attn_k.bias", {kv}, Init::Normal});
      s.push_back({p + "attn_v.bias", {kv}, Init::Normal});
    }
    if (a.qk_norm) {
      s.push_back({p + "attn_q_norm.weight", {a.head_dim()}, Init::Ones});
      s.push_back({p + "attn_k_norm.weight", {a.head_dim()}, Init::Ones});
    }
    s.push_back({p + "attn_output.weight", {q, e}, Init::Normal});
    if (a.post_norms) s.push_back({p + "post_attention_norm.weight", {e}, Init::Ones});
    s.push_back({p + "ffn_norm.weight", {e}, Init::Ones});
    if (a.fused) {
      s.push_back({p + "ffn_up.weight", {e, 2 * ff}, Init::Normal});
    } else {
      s.push_back({p + "ffn_gate.weight", {e, ff}, Init::Normal});
      s.push_back({p + "ffn_up.weight", {e, ff}, Init::Normal});
    }
    s.push_back({p + "ffn_down.weight", {ff, e}, Init::Normal});
    if (a.post_norms) s.push_back({p + "post_ffw_norm.weight", {e}, Init::Ones});
  }
  s.push_back({"output_norm.weight", {e}, Init::Ones});
  if (!a.tied) s.push_back({"output.weight", {e, n_vocab}, Init::Normal});
  return s;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

RowSource make_source(const Spec& spec, const SynthArch& a, uint64_t seed, uint64_t index) {
  const uint64_t row_len = spec.dims[0];
  switch (spec.init) {
    case Init::Ones:
      return [row_len](uint64_t, uint64_t n, float* dst) {
        std::fill(dst, dst + n * row_len, 1.0f);
      };
    case Init::RopeFreqs: {
      std::vector<float> f = llama3_rope_factors(a);
      return [f](uint64_t, uint64_t, float* dst) { std::copy(f.begin(), f.end(), dst); };
    }
    case Init::Normal:
      break;
  }
  return [seed, index, row_len](uint64_t first, uint64_t n, float* dst) {
    for (uint64_t i = 0; i < n; ++i) {
      synth_normal_row(seed, index, first + i, kWeightStd, dst + i * row_len, row_len);
    }
  };
}

void write_metadata(GgufWriter& w, const SynthArch& a, uint32_t n_layer, uint32_t n_vocab,
                    const GgufFile& vocab, const SynthOptions& o) {
  const std::string p = std::string(a.arch) + ".";
  w.set_string("general.architecture", a.arch);
  w.set_string("general.type", "model");
  w.set_string("general.name", fmt::format("synthetic {} (random weights)", a.name));
  w.set_u32(p + "block_count", n_layer);
  w.set_u32(p + "context_length", a.n_ctx);
  w.set_u32(p + "embedding_length", a.n_embd);
  w.set_u32(p + "feed_forward_length", a.n_ff);
  w.set_u32(p + "attention.head_count", a.n_head);
  w.set_u32(p + "attention.head_count_kv", a.n_head_kv);
  w.set_f32(p + "rope.freq_base", a.rope_base);
  w.set_f32(p + "attention.layer_norm_rms_epsilon", a.rms_eps);
  if (a.head_dim_keys) {
    w.set_u32(p + "attention.key_length", a.head_dim());
    w.set_u32(p + "attention.value_length", a.head_dim());
  }
  set_file_type(w, o.target);
  if (a.llama_keys) {
    w.set_u32(p + "vocab_size", n_vocab);
    w.set_u32(p + "rope.dimension_count", a.head_dim());
  }
  if (a.fused) {  // Phi-3's converter
    w.set_u32(p + "rope.dimension_count", a.head_dim());
    w.set_u32(p + "rope.scaling.original_context_length", a.rope_original_ctx);
  }
  if (a.sliding_window > 0) w.set_u32(p + "attention.sliding_window", a.sliding_window);
  if (a.attn_softcap > 0) w.set_f32(p + "attn_logit_softcapping", a.attn_softcap);
  if (a.final_softcap > 0) w.set_f32(p + "final_logit_softcapping", a.final_softcap);
  // Provenance, so a synthetic file is never mistaken for a real model.
  w.set_string("ragd.synth.arch", a.name);
  w.set_u64("ragd.synth.seed", o.seed);
  w.copy_metadata(vocab, [](std::string_view key) { return key.substr(0, 10) == "tokenizer."; });
}

}  // namespace

const std::vector<SynthArch>& synth_archs() { return kArchs; }

const SynthArch* find_synth_arch(std::string_view name) {
  for (const auto& a : kArchs) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string synth_arch_names() {
  std::string out;
  for (const auto& a : kArchs) out += fmt::format("{}{}", out.empty() ? "" : ", ", a.name);
  return out;
}

// Irwin–Hall with four 16-bit uniforms per 64-bit draw: bell-shaped, bounded to ±2√3 std,
// integer-exact (identical on every platform) and one generator call per value.
void synth_normal_row(uint64_t seed, uint64_t tensor, uint64_t row, float std, float* out,
                      size_t n) {
  uint64_t state = seed;
  state = splitmix64(state) ^ (tensor * 0xD1B54A32D192ED03ull);
  state = splitmix64(state) ^ (row * 0xABC98388FB8FAC03ull);
  const float scale = std * std::numbers::sqrt3_v<float> / 65536.0f;
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = splitmix64(state);
    int64_t sum = static_cast<int64_t>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) +
                                       ((r >> 32) & 0xFFFF) + (r >> 48));
    out[i] = static_cast<float>(sum - 131070) * scale;  // 131070 = 4 * 65535 / 2
  }
}

std::vector<float> llama3_rope_factors(const SynthArch& a) {
  const double dim = a.head_dim();
  const double low_wavelen = a.rope_original_ctx / a.rope_low_freq_factor;
  const double high_wavelen = a.rope_original_ctx / a.rope_high_freq_factor;
  std::vector<float> out;
  for (uint32_t i = 0; i < a.head_dim(); i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(a.rope_base), i / dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    double factor;
    if (wavelen < high_wavelen) {
      factor = 1.0;
    } else if (wavelen > low_wavelen) {
      factor = a.rope_factor;
    } else {
      const double smooth = (a.rope_original_ctx / wavelen - a.rope_low_freq_factor) /
                            (a.rope_high_freq_factor - a.rope_low_freq_factor);
      factor = 1.0 / ((1 - smooth) / a.rope_factor + smooth);
    }
    out.push_back(static_cast<float>(factor));
  }
  return out;
}

SynthReport synth_model(const std::string& out_path, const SynthOptions& o) {
  const SynthArch* known = find_synth_arch(o.arch);
  if (!known) fail("unknown architecture '{}'; known: {}", o.arch, synth_arch_names());
  SynthArch arch = *known;  // with the options' soft-caps
  const SynthArch* a = &arch;
  const auto set_cap = [&](const std::optional<float>& value, float& cap, const char* key) {
    if (!value) return;
    // A cap is neither added to an architecture without one (llama.cpp reads the keys for
    // Gemma 2 only, so the file would mean one thing to ragd and another to llama.cpp) nor
    // switched off (llama.cpp divides by it, and reads a missing key as the default).
    if (cap <= 0.0f) fail("{} has no {}: it cannot be overridden", arch.name, key);
    if (!std::isfinite(*value) || *value <= 0.0f) {
      fail("{} must be a finite number > 0, got {}", key, *value);
    }
    cap = *value;
  };
  set_cap(o.attn_softcap, arch.attn_softcap, "attn_logit_softcapping");
  set_cap(o.final_softcap, arch.final_softcap, "final_logit_softcapping");
  const uint32_t n_layer = o.layers.value_or(a->n_layer);
  if (n_layer == 0 || n_layer > kMaxLayers) {
    fail("--layers must be between 1 and {}, got {}", kMaxLayers, n_layer);
  }
  auto vocab = GgufFile::open(o.vocab_path);
  if (!vocab->has("tokenizer.ggml.tokens")) {
    fail("'{}' has no tokenizer.ggml.tokens: --vocab needs a GGUF with a vocabulary",
         o.vocab_path);
  }
  const uint64_t n_tokens = vocab->get_array("tokenizer.ggml.tokens").count;
  if (n_tokens == 0 || n_tokens > (uint64_t{1} << 24)) {
    fail("'{}': vocabulary of {} tokens is not usable", o.vocab_path, n_tokens);
  }
  SynthReport report;
  report.n_vocab = static_cast<uint32_t>(n_tokens);
  report.n_layer = n_layer;
  if (arch.attn_softcap != known->attn_softcap || arch.final_softcap != known->final_softcap) {
    report.notes.push_back(fmt::format(
        "soft-caps: attention {}, final {} ({}'s own: {}, {})", arch.attn_softcap,
        arch.final_softcap, arch.name, known->attn_softcap, known->final_softcap));
  }
  if (report.n_vocab != a->n_vocab) {
    report.notes.push_back(fmt::format("{} has {} tokens; the vocab has {}: using {}", a->name,
                                       a->n_vocab, report.n_vocab, report.n_vocab));
  }

  GgufWriter w;
  write_metadata(w, *a, n_layer, report.n_vocab, *vocab, o);
  const std::vector<Spec> specs = tensor_specs(*a, n_layer, report.n_vocab);
  QuantPlanner planner(o.target, o.pure, n_layer, !a->tied, n_layer);
  ProgressTracker tracker(o.progress, specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const Spec& s = specs[i];
    TensorChoice c = planner.choose(s.name, s.dims, kernels::TensorType::F32);
    if (!c.note.empty()) report.notes.push_back(c.note);
    uint64_t rows = 1, n = s.dims[0];
    for (size_t d = 1; d < s.dims.size(); ++d) rows *= s.dims[d];
    n *= rows;
    auto produce = convert_producer(c.type, s.dims[0], rows, make_source(s, *a, o.seed, i),
                                    o.threads);
    w.add_tensor(s.name, c.type, s.dims, tracker.track(i, s.name, std::move(produce)));
    report.n_params += n;
    report.bytes_out += kernels::row_bytes(c.type, s.dims[0]) * rows;
  }
  report.n_tensors = specs.size();
  tracker.set_total(report.bytes_out);
  w.write(out_path);
  report.seconds = tracker.seconds();
  return report;
}

}  // namespace ragd::model
