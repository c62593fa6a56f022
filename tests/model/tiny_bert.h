// Test helpers: safetensors images and a tiny random-weight BERT checkpoint directory in the
// Hugging Face layout (config.json, model.safetensors, tokenizer.json, modules.json,
// 1_Pooling/config.json), plus a naive double-precision forward pass over its weights to
// check BertModel against. Shared by tests/model and tests/engine.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "kernels/quants.h"

namespace ragd::testing {

struct StEntry {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", ...
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

// F32 values stored as `dtype` (F32, F16 or BF16).
inline StEntry st_floats(std::string name, std::vector<uint64_t> shape,
                         const std::vector<float>& v, const std::string& dtype = "F32") {
  StEntry e{std::move(name), dtype, std::move(shape), {}};
  if (dtype == "F32") {
    e.bytes.resize(v.size() * 4);
    std::memcpy(e.bytes.data(), v.data(), e.bytes.size());
  } else {
    e.bytes.resize(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
      uint16_t h = dtype == "F16" ? kernels::fp32_to_fp16(v[i]) : kernels::fp32_to_bf16(v[i]);
      std::memcpy(&e.bytes[2 * i], &h, 2);
    }
  }
  return e;
}

// A safetensors image; `header_override` replaces the JSON header when non-empty.
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StEntry>& entries,
                                              const std::string& header_override = "") {
  nlohmann::json h = nlohmann::json::object();
  h["__metadata__"] = {{"format", "pt"}};
  uint64_t off = 0;
  for (const auto& e : entries) {
    h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string header = header_override.empty() ? h.dump() : header_override;
  while (header.size() % 8) header += ' ';  // the format pads the header with spaces
  // Assembled with a string: GCC 12 reports a false -Warray-bounds for inserts into a
  // freshly sized std::vector<uint8_t> here.
  std::string all;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) all.push_back(static_cast<char>(n >> (8 * i)));
  all += header;
  for (const auto& e : entries) all.append(e.bytes.begin(), e.bytes.end());
  return std::vector<uint8_t>(all.begin(), all.end());
}

// A fresh directory under the system temp dir, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("ragd-bert-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

struct TinyBert {
  size_t n_embd = 32, n_head = 4, n_ff = 64, n_layer = 2, n_ctx = 16, n_types = 2;
  bool cls_pooling = false;
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello",
                                    "world", "the",   "cat",   "sat",   "on",     "mat",
                                    "##s",   "a",     ",",     ".",     "dog",    "##gy"};
  // HF name → values (PyTorch shapes are implied by the names).
  std::map<std::string, std::vector<float>> weights;

  size_t n_vocab() const { return vocab.size(); }

  // Fills random weights (fixed seed) and writes the checkpoint directory.
  void write(const std::filesystem::path& dir, const std::string& dtype = "F32", uint32_t seed = 7) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    std::vector<StEntry> entries;
    auto add = [&](const std::string& name, std::vector<uint64_t> shape, float base = 0.0f) {
      size_t n = 1;
      for (auto d : shape) n *= d;
      std::vector<float> v(n);
      for (auto& x : v) x = base + nd(rng);
      // Keep what the model computes with: the values after the dtype round trip.
      auto e = st_floats(name, shape, v, dtype);
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        if (dtype == "F16") std::memcpy(&h, &e.bytes[2 * i], 2), v[i] = kernels::fp16_to_fp32(h);
        if (dtype == "BF16") std::memcpy(&h, &e.bytes[2 * i], 2), v[i] = kernels::bf16_to_fp32(h);
      }
      weights[name] = v;
      entries.push_back(std::move(e));
    };
    const uint64_t E = n_embd, F = n_ff;
    add("embeddings.word_embeddings.weight", {n_vocab(), E});
    add("embeddings.token_type_embeddings.weight", {n_types, E});
    add("embeddings.position_embeddings.weight", {n_ctx, E});
    add("embeddings.LayerNorm.weight", {E}, 1.0f);
    add("embeddings.LayerNorm.bias", {E});
    for (size_t l = 0; l < n_layer; ++l) {
      const std::string p = "encoder.layer." + std::to_string(l) + ".";
      for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value",
                            "attention.output.dense"}) {
        add(p + m + ".weight", {E, E});
        add(p + m + ".bias", {E});
      }
      add(p + "attention.output.LayerNorm.weight", {E}, 1.0f);
      add(p + "attention.output.LayerNorm.bias", {E});
      add(p + "intermediate.dense.weight", {F, E});
      add(p + "intermediate.dense.bias", {F});
      add(p + "output.dense.weight", {E, F});
      add(p + "output.dense.bias", {E});
      add(p + "output.LayerNorm.weight", {E}, 1.0f);
      add(p + "output.LayerNorm.bias", {E});
    }
    add("pooler.dense.weight", {E, E});  // skipped by the converter
    const auto st = safetensors_bytes(entries);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "model.safetensors", std::ios::binary)
        .write(reinterpret_cast<const char*>(st.data()), static_cast<std::streamsize>(st.size()));
    nlohmann::json cfg = {{"model_type", "bert"},
                          {"hidden_size", n_embd},
                          {"num_hidden_layers", n_layer},
                          {"num_attention_heads", n_head},
                          {"intermediate_size", n_ff},
                          {"max_position_embeddings", n_ctx},
                          {"type_vocab_size", n_types},
                          {"layer_norm_eps", 1e-12},
                          {"hidden_act", "gelu"},
                          {"vocab_size", n_vocab()}};
    write_file(dir / "config.json", cfg.dump());
    nlohmann::json vocab_map = nlohmann::json::object();
    for (size_t i = 0; i < vocab.size(); ++i) vocab_map[vocab[i]] = i;
    nlohmann::json added = nlohmann::json::array();
    for (size_t i = 0; i < 5; ++i) added.push_back({{"id", i}, {"content", vocab[i]}, {"special", true}});
    nlohmann::json tok = {
        {"version", "1.0"},
        {"added_tokens", added},
        {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}, {"strip_accents", nullptr},
                        {"clean_text", true}, {"handle_chinese_chars", true}}},
        {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"},
                   {"continuing_subword_prefix", "##"}, {"vocab", vocab_map}}}};
    write_file(dir / "tokenizer.json", tok.dump());
    write_file(dir / "modules.json",
               R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},)"
               R"({"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}])");
    write_file(dir / "1_Pooling" / "config.json",
               nlohmann::json({{"pooling_mode_mean_tokens", !cls_pooling},
                               {"pooling_mode_cls_token", cls_pooling}}).dump());
  }

  // Naive forward in double over the stored weights: the unit sentence embedding of `ids`.
  std::vector<double> reference(const std::vector<int32_t>& ids) const {
    const size_t E = n_embd, F = n_ff, T = ids.size(), D = E / n_head;
    auto W = [&](const std::string& n) -> const std::vector<float>& { return weights.at(n); };
    auto norm = [&](std::vector<double>& x, const std::string& p) {
      const auto &w = W(p + ".weight"), &b = W(p + ".bias");
      for (size_t t = 0; t < T; ++t) {
        double mu = 0, var = 0;
        for (size_t e = 0; e < E; ++e) mu += x[t * E + e];
        mu /= E;
        for (size_t e = 0; e < E; ++e) var += (x[t * E + e] - mu) * (x[t * E + e] - mu);
        var /= E;
        for (size_t e = 0; e < E; ++e) x[t * E + e] = (x[t * E + e] - mu) / std::sqrt(var + 1e-12) * w[e] + b[e];
      }
    };
    auto linear = [&](const std::vector<double>& x, size_t in, const std::string& p, size_t out) {
      const auto &w = W(p + ".weight"), &b = W(p + ".bias");
      std::vector<double> y(T * out);
      for (size_t t = 0; t < T; ++t)
        for (size_t o = 0; o < out; ++o) {
          double s = b[o];
          for (size_t i = 0; i < in; ++i) s += w[o * in + i] * x[t * in + i];
          y[t * out + o] = s;
        }
      return y;
    };
    std::vector<double> x(T * E);
    for (size_t t = 0; t < T; ++t)
      for (size_t e = 0; e < E; ++e)
        x[t * E + e] = W("embeddings.word_embeddings.weight")[ids[t] * E + e] +
                       W("embeddings.token_type_embeddings.weight")[e] +
                       W("embeddings.position_embeddings.weight")[t * E + e];
    norm(x, "embeddings.LayerNorm");
    for (size_t l = 0; l < n_layer; ++l) {
      const std::string p = "encoder.layer." + std::to_string(l) + ".";
      auto q = linear(x, E, p + "attention.self.query", E);
      auto k = linear(x, E, p + "attention.self.key", E);
      auto v = linear(x, E, p + "attention.self.value", E);
      std::vector<double> a(T * E, 0.0);
      for (size_t h = 0; h < n_head; ++h)
        for (size_t i = 0; i < T; ++i) {
          std::vector<double> s(T);
          double mx = -1e300, sum = 0;
          for (size_t j = 0; j < T; ++j) {
            double d = 0;
            for (size_t c = 0; c < D; ++c) d += q[i * E + h * D + c] * k[j * E + h * D + c];
            s[j] = d / std::sqrt(static_cast<double>(D));
            mx = std::max(mx, s[j]);
          }
          for (auto& z : s) sum += (z = std::exp(z - mx));
          for (size_t j = 0; j < T; ++j)
            for (size_t c = 0; c < D; ++c) a[i * E + h * D + c] += s[j] / sum * v[j * E + h * D + c];
        }
      auto o = linear(a, E, p + "attention.output.dense", E);
      for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
      norm(x, p + "attention.output.LayerNorm");
      auto up = linear(x, E, p + "intermediate.dense", F);
      for (auto& z : up) z = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
      auto down = linear(up, F, p + "output.dense", E);
      for (size_t i = 0; i < x.size(); ++i) x[i] += down[i];
      norm(x, p + "output.LayerNorm");
    }
    std::vector<double> e(E, 0.0);
    for (size_t t = 0; t < (cls_pooling ? 1 : T); ++t)
      for (size_t c = 0; c < E; ++c) e[c] += x[t * E + c] / (cls_pooling ? 1 : T);
    double n = 0;
    for (double z : e) n += z * z;
    for (double& z : e) z /= std::sqrt(n);
    return e;
  }
};

inline double cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += double(a[i]) * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

}  // namespace ragd::testing
