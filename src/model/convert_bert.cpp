#include "model/convert_bert.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "model/gguf_writer.h"
#include "model/hf_bert_vocab.h"
#include "model/safetensors.h"
#include "util/error.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;
using kernels::TensorType;
using nlohmann::json;

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read '{}'", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  json j = json::parse(s.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail("'{}' is not a JSON object", path.string());
  return j;
}

uint64_t config_uint(const json& c, const char* key, const fs::path& where) {
  if (!c.contains(key) || !c[key].is_number_unsigned() || c[key].get<uint64_t>() == 0) {
    fail("'{}': \"{}\" must be a positive integer", where.string(), key);
  }
  return c[key].get<uint64_t>();
}

struct BertHparams {
  uint64_t n_embd, n_layer, n_head, n_ff, n_ctx;
  float eps;
};

BertHparams read_config(const fs::path& dir) {
  const fs::path p = dir / "config.json";
  const json c = read_json(p);
  const std::string type = c.value("model_type", "bert");
  if (type != "bert") fail("'{}': model_type '{}' is not BERT", p.string(), type);
  const std::string act = c.value("hidden_act", "gelu");
  if (act != "gelu") {
    fail("'{}': hidden_act '{}' is not supported (only the erf GELU, \"gelu\")", p.string(), act);
  }
  const std::string pos = c.value("position_embedding_type", "absolute");
  if (pos != "absolute") {
    fail("'{}': position_embedding_type '{}' is not supported (only absolute)", p.string(), pos);
  }
  BertHparams h;
  h.n_embd = config_uint(c, "hidden_size", p);
  h.n_layer = config_uint(c, "num_hidden_layers", p);
  h.n_head = config_uint(c, "num_attention_heads", p);
  h.n_ff = config_uint(c, "intermediate_size", p);
  h.n_ctx = config_uint(c, "max_position_embeddings", p);
  h.eps = static_cast<float>(c.value("layer_norm_eps", 1e-12));
  if (h.n_embd % h.n_head != 0) {
    fail("'{}': hidden_size {} is not a multiple of num_attention_heads {}", p.string(), h.n_embd,
         h.n_head);
  }
  return h;
}

// bert.pooling_type from sentence-transformers' modules.json + pooling config: 1 = mean,
// 2 = CLS (llama.cpp's enum). nullopt when the directory has no pooling module.
std::optional<uint32_t> read_pooling(const fs::path& dir) {
  const fs::path modules = dir / "modules.json";
  if (!fs::exists(modules)) return std::nullopt;
  std::ifstream in(modules);
  const json m = json::parse(in, nullptr, false);
  if (m.is_discarded() || !m.is_array()) fail("'{}' is not a JSON array", modules.string());
  for (const json& mod : m) {
    if (!mod.is_object() || mod.value("type", "") != "sentence_transformers.models.Pooling") continue;
    const fs::path cfg_path = dir / mod.value("path", "") / "config.json";
    const json cfg = read_json(cfg_path);
    if (cfg.value("pooling_mode_mean_tokens", false)) return 1;
    if (cfg.value("pooling_mode_cls_token", false)) return 2;
    fail("'{}': only mean and CLS pooling are supported", cfg_path.string());
  }
  return std::nullopt;
}

// Hugging Face tensor name → GGUF name; "" for tensors an encoder does not use. Unknown
// names are an error, so that a checkpoint of another architecture is not half-converted.
std::string gguf_name(std::string name) {
  if (name.starts_with("bert.")) name = name.substr(5);
  if (name.ends_with(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
  if (name.ends_with(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
  if (name == "embeddings.position_ids" || name.starts_with("pooler.") ||
      name.starts_with("cls.")) {
    return "";
  }
  static const std::pair<std::string_view, std::string_view> kEmbeddings[] = {
      {"embeddings.word_embeddings.", "token_embd."},
      {"embeddings.token_type_embeddings.", "token_types."},
      {"embeddings.position_embeddings.", "position_embd."},
      {"embeddings.LayerNorm.", "token_embd_norm."},
  };
  for (const auto& [from, to] : kEmbeddings) {
    if (name.starts_with(from)) return std::string(to) + name.substr(from.size());
  }
  static constexpr std::string_view kLayer = "encoder.layer.";
  if (name.starts_with(kLayer)) {
    const size_t dot = name.find('.', kLayer.size());
    if (dot != std::string::npos) {
      const std::string block = name.substr(kLayer.size(), dot - kLayer.size());
      const std::string rest = name.substr(dot + 1);
      static const std::pair<std::string_view, std::string_view> kBlock[] = {
          {"attention.self.query.", "attn_q."},
          {"attention.self.key.", "attn_k."},
          {"attention.self.value.", "attn_v."},
          {"attention.output.dense.", "attn_output."},
          {"attention.output.LayerNorm.", "attn_output_norm."},
          {"intermediate.dense.", "ffn_up."},
          {"output.dense.", "ffn_down."},
          {"output.LayerNorm.", "layer_output_norm."},
      };
      for (const auto& [from, to] : kBlock) {
        if (rest.starts_with(from)) {
          return "blk." + block + "." + std::string(to) + rest.substr(from.size());
        }
      }
    }
  }
  fail("tensor '{}' is not part of a BERT encoder", name);
}

// One tensor to write: where it comes from and its GGUF shape (dims[0] = row length).
struct Planned {
  std::string name;
  const SafetensorsTensor* src;
  std::vector<uint64_t> dims;
};

// The tensors in a fixed order (embeddings, then block by block), each with its expected
// PyTorch shape checked.
std::vector<Planned> plan_tensors(const SafetensorsFile& st, const BertHparams& h,
                                  uint64_t& n_vocab, uint64_t& n_types,
                                  std::vector<std::string>& notes) {
  std::map<std::string, const SafetensorsTensor*> by_gguf;
  for (const auto& t : st.tensors()) {
    const std::string g = gguf_name(t.name);
    if (g.empty()) {
      notes.push_back(fmt::format("skipped '{}' (not used to compute embeddings)", t.name));
      continue;
    }
    if (!by_gguf.emplace(g, &t).second) fail("two tensors map to '{}'", g);
  }
  std::vector<Planned> out;
  std::set<std::string> used;
  auto take = [&](const std::string& name, std::vector<uint64_t> torch_shape) {
    auto it = by_gguf.find(name);
    if (it == by_gguf.end()) fail("'{}' has no tensor for '{}'", st.path(), name);
    const SafetensorsTensor* t = it->second;
    if (!t->is_float()) {
      fail("tensor '{}' has dtype {}; expected F32, F16 or BF16", t->name, st_dtype_name(t->dtype));
    }
    if (t->shape != torch_shape) {
      std::string want, got;
      for (auto d : torch_shape) want += fmt::format("{} ", d);
      for (auto d : t->shape) got += fmt::format("{} ", d);
      fail("tensor '{}' has shape [ {}], expected [ {}]", t->name, got, want);
    }
    used.insert(name);
    out.push_back({name, t, std::vector<uint64_t>(torch_shape.rbegin(), torch_shape.rend())});
  };
  const auto* we = by_gguf.count("token_embd.weight") ? by_gguf["token_embd.weight"] : nullptr;
  const auto* tt = by_gguf.count("token_types.weight") ? by_gguf["token_types.weight"] : nullptr;
  if (!we || we->shape.size() != 2) fail("'{}': no 2-D word embedding matrix", st.path());
  if (!tt || tt->shape.size() != 2) fail("'{}': no 2-D token type embedding matrix", st.path());
  n_vocab = we->shape[0];
  n_types = tt->shape[0];
  const uint64_t E = h.n_embd, F = h.n_ff;
  take("token_embd.weight", {n_vocab, E});
  take("token_types.weight", {n_types, E});
  take("position_embd.weight", {h.n_ctx, E});
  take("token_embd_norm.weight", {E});
  take("token_embd_norm.bias", {E});
  for (uint64_t i = 0; i < h.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
      take(p + m + ".weight", {E, E});
      take(p + m + ".bias", {E});
    }
    take(p + "attn_output_norm.weight", {E});
    take(p + "attn_output_norm.bias", {E});
    take(p + "ffn_up.weight", {F, E});
    take(p + "ffn_up.bias", {F});
    take(p + "ffn_down.weight", {E, F});
    take(p + "ffn_down.bias", {E});
    take(p + "layer_output_norm.weight", {E});
    take(p + "layer_output_norm.bias", {E});
  }
  for (const auto& [name, t] : by_gguf) {
    if (!used.count(name)) fail("tensor '{}' ({}) is not used by a {}-layer BERT", t->name, name, h.n_layer);
  }
  return out;
}

// llama.cpp's converter: vectors, norms, biases, position and token-type embeddings stay
// F32; the remaining matrices get the requested type (F16 when rows do not fit its blocks).
TensorType tensor_type(const Planned& p, TensorType requested) {
  if (p.dims.size() < 2 || !p.name.ends_with(".weight") || p.name.ends_with("_norm.weight") ||
      p.name == "position_embd.weight" || p.name == "token_types.weight") {
    return TensorType::F32;
  }
  if (p.dims[0] % kernels::traits(requested).block_size != 0) return TensorType::F16;
  return requested;
}

}  // namespace

uint32_t bert_file_type(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q8_0: return 7;
    case TensorType::BF16: return 32;
    default: fail("convert: type {} is not supported (f32, f16, bf16, q8_0)", kernels::type_name(type));
  }
}

ConvertBertReport convert_bert(const std::string& src_dir, const std::string& out_path,
                               const ConvertBertOptions& options) {
  const fs::path dir(src_dir);
  if (!fs::is_directory(dir)) fail("'{}' is not a directory", src_dir);
  const uint32_t file_type = bert_file_type(options.type);
  ConvertBertReport report;
  const BertHparams h = read_config(dir);
  const fs::path st_path = dir / "model.safetensors";
  if (!fs::exists(st_path)) {
    fail("'{}' has no model.safetensors (sharded and PyTorch .bin checkpoints are not "
         "supported)", src_dir);
  }
  auto st = SafetensorsFile::open(st_path.string());
  uint64_t n_vocab = 0, n_types = 0;
  const std::vector<Planned> plan = plan_tensors(*st, h, n_vocab, n_types, report.notes);
  const HfBertVocab vocab = read_hf_bert_vocab(src_dir, n_vocab);
  if (vocab.tokens.size() != n_vocab) {
    fail("the vocabulary has {} tokens but the embedding matrix {} rows", vocab.tokens.size(),
         n_vocab);
  }
  const std::optional<uint32_t> pooling = read_pooling(dir);
  if (!pooling) report.notes.push_back("no sentence-transformers pooling config: pooling_type not set (ragd uses mean pooling)");

  std::string name = options.name;
  if (name.empty()) name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();

  GgufWriter w;
  w.set_string("general.architecture", "bert");
  w.set_string("general.name", name);
  w.set_u32("bert.context_length", static_cast<uint32_t>(h.n_ctx));
  w.set_u32("bert.embedding_length", static_cast<uint32_t>(h.n_embd));
  w.set_u32("bert.feed_forward_length", static_cast<uint32_t>(h.n_ff));
  w.set_u32("bert.block_count", static_cast<uint32_t>(h.n_layer));
  w.set_u32("bert.attention.head_count", static_cast<uint32_t>(h.n_head));
  w.set_f32("bert.attention.layer_norm_epsilon", h.eps);
  w.set_u32("general.file_type", file_type);
  w.set_bool("bert.attention.causal", false);
  if (pooling) w.set_u32("bert.pooling_type", *pooling);
  w.set_u32("tokenizer.ggml.token_type_count", static_cast<uint32_t>(n_types));
  w.set_string("tokenizer.ggml.model", "bert");
  // llama.cpp ignores the pre-tokenizer name for WordPiece vocabularies.
  w.set_string("tokenizer.ggml.pre", "default");
  std::vector<std::string> tokens;
  tokens.reserve(vocab.tokens.size());
  for (const auto& t : vocab.tokens) tokens.push_back(gguf_wordpiece_token(t));
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_array<int32_t>("tokenizer.ggml.token_type", std::span<const int32_t>(vocab.token_types));
  auto set_id = [&](const char* key, int32_t id) {
    if (id >= 0) w.set_u32(key, static_cast<uint32_t>(id));
  };
  set_id("tokenizer.ggml.unknown_token_id", vocab.unk_id);
  set_id("tokenizer.ggml.seperator_token_id", vocab.sep_id);  // sic: GGUF's spelling
  set_id("tokenizer.ggml.padding_token_id", vocab.pad_id);
  set_id("tokenizer.ggml.cls_token_id", vocab.cls_id);
  set_id("tokenizer.ggml.mask_token_id", vocab.mask_id);

  ProgressTracker tracker(options.progress, plan.size());
  uint64_t total = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    const TensorType type = tensor_type(p, options.type);
    const uint64_t row_len = p.dims[0];
    const uint64_t n_rows = p.src->n_elements / row_len;
    const SafetensorsTensor* src = p.src;
    RowSource source = [src, row_len](uint64_t first, uint64_t n, float* dst) {
      src->to_f32(first * row_len, n * row_len, dst);
    };
    GgufWriter::Producer produce =
        convert_producer(type, row_len, n_rows, std::move(source), options.threads);
    w.add_tensor(p.name, type, p.dims, tracker.track(i, p.name, std::move(produce)));
    total += kernels::row_bytes(type, row_len) * n_rows;
  }
  tracker.set_total(total);
  w.write(out_path);

  report.name = name;
  report.n_layer = h.n_layer;
  report.n_embd = h.n_embd;
  report.n_vocab = n_vocab;
  report.n_tensors = plan.size();
  report.pooling = !pooling ? "mean (default)" : *pooling == 1 ? "mean" : "cls";
  report.bytes_out = total;
  report.seconds = tracker.seconds();
  return report;
}

}  // namespace ragd::model
