#include "model/quant_plan.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>

#include "kernels/quants.h"

namespace ragd::model {
namespace {

using kernels::TensorType;

// llama.cpp's LLAMA_FTYPE values (llama.h).
enum Ftype : uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kBF16 = 32,
};

struct TargetRow {
  std::string_view name;
  TensorType base;
  uint32_t ftype;
};

constexpr std::array kTargets = {
    TargetRow{"q8_0", TensorType::Q8_0, kQ8_0},     TargetRow{"q4_0", TensorType::Q4_0, kQ4_0},
    TargetRow{"q4_1", TensorType::Q4_1, kQ4_1},     TargetRow{"q5_0", TensorType::Q5_0, kQ5_0},
    TargetRow{"q5_1", TensorType::Q5_1, kQ5_1},     TargetRow{"q4_k", TensorType::Q4_K, kQ4_K_S},
    TargetRow{"q4_k_s", TensorType::Q4_K, kQ4_K_S}, TargetRow{"q4_k_m", TensorType::Q4_K, kQ4_K_M},
    TargetRow{"q5_k", TensorType::Q5_K, kQ5_K_S},   TargetRow{"q5_k_s", TensorType::Q5_K, kQ5_K_S},
    TargetRow{"q5_k_m", TensorType::Q5_K, kQ5_K_M}, TargetRow{"q6_k", TensorType::Q6_K, kQ6_K},
    TargetRow{"f16", TensorType::F16, kF16},        TargetRow{"bf16", TensorType::BF16, kBF16},
    TargetRow{"f32", TensorType::F32, kAllF32},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// llama.cpp's replacement when a k-quant's 256-block does not divide the row length.
TensorType fallback_type(TensorType t) {
  switch (t) {
    case TensorType::Q4_K: return TensorType::Q5_0;
    case TensorType::Q5_K: return TensorType::Q5_1;
    case TensorType::Q6_K: return TensorType::Q8_0;
    // llama.cpp gives up here; F16 fits every row length and loses nothing that matters.
    default: return TensorType::F16;
  }
}

}  // namespace

std::optional<QuantTarget> parse_quant_target(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& row : kTargets) {
    if (row.name == lower) return QuantTarget{std::string(row.name), row.base, row.ftype};
  }
  return std::nullopt;
}

std::string quant_target_names() {
  std::string out;
  for (const auto& row : kTargets) {
    if (!out.empty()) out += ", ";
    out += row.name;
  }
  return out;
}

bool is_block_quantized(TensorType type) { return kernels::traits(type).block_size > 1; }

bool use_more_bits(int64_t i_layer, int64_t n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
         (i_layer - n_layers / 8) % 3 == 2;
}

int64_t tensor_layer(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int64_t layer = -1;
  auto r = std::from_chars(name.data() + 4, name.data() + name.size(), layer);
  if (r.ec != std::errc() || r.ptr == name.data() + name.size() || *r.ptr != '.') return -1;
  return layer;
}

QuantPlanner::QuantPlanner(QuantTarget target, bool pure, int64_t n_layer, bool has_output,
                           int64_t n_attn_v)
    : target_(std::move(target)),
      pure_(pure),
      n_layer_(n_layer),
      has_output_(has_output),
      n_attn_v_(n_attn_v) {}

bool QuantPlanner::is_quantizable(std::string_view name, size_t n_dims) {
  if (!ends_with(name, "weight") || n_dims < 2) return false;
  // Small or precision-critical tensors llama.cpp always keeps as they are.
  static constexpr std::string_view kKeep[] = {
      "_norm.weight",        "ffn_gate_inp.weight",      "ssm_conv1d.weight",
      "time_mix_first.weight", "time_mix_w1.weight",     "time_mix_w2.weight",
      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
      "attn_rel_b.weight"};
  for (auto k : kKeep) {
    if (contains(name, k)) return false;
  }
  return name != "position_embd.weight" && name != "token_types.weight";
}

// llama_tensor_get_type's choice before the incompatible-shape fallback.
TensorType QuantPlanner::mixed_type(std::string_view name, uint64_t row_len) const {
  const TensorType base = target_.base;
  const uint32_t ft = target_.ftype;
  if (name == "output.weight" || (!has_output_ && name == "token_embd.weight")) {
    if (row_len % kernels::traits(base).block_size != 0) return TensorType::Q8_0;
    return base == TensorType::Q8_0 ? base : TensorType::Q6_K;
  }
  const int64_t layer = tensor_layer(name);
  if (contains(name, "attn_v.weight")) {
    if ((ft == kQ4_K_M || ft == kQ5_K_M) && use_more_bits(layer, n_attn_v_)) {
      return TensorType::Q6_K;
    }
    if (ft == kQ4_K_S && layer >= 0 && layer < 4) return TensorType::Q5_K;
  } else if (contains(name, "ffn_down")) {
    if ((ft == kQ4_K_M || ft == kQ5_K_M) && use_more_bits(layer, n_layer_)) {
      return TensorType::Q6_K;
    }
    if (ft == kQ4_K_S && layer >= 0 && layer < n_layer_ / 8) return TensorType::Q5_K;
  } else if (contains(name, "attn_qkv.weight")) {
    if (ft == kQ4_K_M) return TensorType::Q5_K;
    if (ft == kQ5_K_M) return TensorType::Q6_K;
  }
  return base;
}

TensorChoice QuantPlanner::choose(std::string_view name, const std::vector<uint64_t>& dims,
                                  TensorType current) const {
  TensorChoice c;
  c.type = current;
  if (!is_quantizable(name, dims.size())) return c;
  const uint64_t row_len = dims.at(0);
  TensorType want = target_.base;
  if (!pure_ && is_block_quantized(want)) {
    // Layers counted from 0 by name; a tensor outside "blk.N." is never "more bits".
    if (tensor_layer(name) >= 0 || name == "output.weight" || name == "token_embd.weight") {
      want = mixed_type(name, row_len);
    }
  }
  if (row_len % kernels::traits(want).block_size != 0) {
    TensorType fb = fallback_type(want);
    if (row_len % kernels::traits(fb).block_size != 0) fb = TensorType::F16;
    c.note = fmt::format("{}: row length {} is not a multiple of the {} block size {}; using {}",
                         name, row_len, kernels::type_name(want),
                         kernels::traits(want).block_size, kernels::type_name(fb));
    want = fb;
  }
  if (want == current) return c;
  if (!kernels::can_dequantize(current)) {
    c.note = fmt::format("{}: cannot convert from {}; copied unchanged", name,
                         kernels::type_name(current));
    return c;
  }
  c.convert = true;
  c.type = want;
  return c;
}

}  // namespace ragd::model
