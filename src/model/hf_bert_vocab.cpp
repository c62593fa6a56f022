#include "model/hf_bert_vocab.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/tokenizer.h"
#include "util/error.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read '{}'", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json read_json(const fs::path& path) {
  json j = json::parse(read_text(path), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail("'{}' is not valid JSON", path.string());
  return j;
}

// The default special-token texts of BERT, overridden by special_tokens_map.json.
struct SpecialNames {
  std::string cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", unk = "[UNK]", mask = "[MASK]";
};

SpecialNames read_special_names(const fs::path& dir) {
  SpecialNames n;
  const fs::path p = dir / "special_tokens_map.json";
  if (!fs::exists(p)) return n;
  const json j = read_json(p);
  auto take = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    const json& v = j[key];
    if (v.is_string()) out = v.get<std::string>();
    // The long form {"content": "[CLS]", "lstrip": ..., ...}.
    else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      out = v["content"].get<std::string>();
    }
  };
  take("cls_token", n.cls);
  take("sep_token", n.sep);
  take("pad_token", n.pad);
  take("unk_token", n.unk);
  take("mask_token", n.mask);
  return n;
}

// BertNormalizer settings that ragd's WordPiece implements: lowercase, accents stripped
// (strip_accents null means "same as lowercase" in `tokenizers`), Chinese characters split.
void check_normalizer(const json& tok, const std::string& where) {
  if (!tok.contains("normalizer") || tok["normalizer"].is_null()) {
    fail("{}: no normalizer; only uncased BERT vocabularies (BertNormalizer, lowercase) are "
         "supported", where);
  }
  const json& n = tok["normalizer"];
  if (n.value("type", "") != "BertNormalizer") {
    fail("{}: normalizer type '{}' is not supported (only BertNormalizer)", where,
         n.value("type", "?"));
  }
  const bool lowercase = n.value("lowercase", true);
  const bool strip = n.contains("strip_accents") && !n["strip_accents"].is_null()
                         ? n["strip_accents"].get<bool>()
                         : lowercase;
  if (!lowercase || !strip) {
    fail("{}: cased BERT vocabularies (lowercase={}, strip_accents={}) are not supported: "
         "ragd's WordPiece tokenizer lowercases and strips accents", where, lowercase, strip);
  }
  if (!n.value("handle_chinese_chars", true)) {
    fail("{}: handle_chinese_chars=false is not supported", where);
  }
}

// id → token text from tokenizer.json's WordPiece model (plus added tokens).
std::map<int64_t, std::string> vocab_from_tokenizer_json(const json& tok, const std::string& where,
                                                         std::map<int64_t, bool>& special) {
  if (!tok.contains("model") || !tok["model"].is_object()) fail("{}: no \"model\"", where);
  const json& m = tok["model"];
  if (m.value("type", "") != "WordPiece") {
    fail("{}: tokenizer model '{}' is not WordPiece", where, m.value("type", "?"));
  }
  if (m.value("continuing_subword_prefix", "##") != "##") {
    fail("{}: continuing_subword_prefix must be \"##\"", where);
  }
  if (!m.contains("vocab") || !m["vocab"].is_object()) fail("{}: no model.vocab map", where);
  std::map<int64_t, std::string> by_id;
  auto put = [&](const std::string& text, const json& id) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 24)) {
      fail("{}: token '{}' has an invalid id", where, text);
    }
    auto [it, fresh] = by_id.emplace(id.get<int64_t>(), text);
    if (!fresh && it->second != text) {
      fail("{}: id {} is both '{}' and '{}'", where, it->first, it->second, text);
    }
  };
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) put(it.key(), it.value());
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array()) {
    for (const json& a : tok["added_tokens"]) {
      if (!a.contains("content") || !a["content"].is_string() || !a.contains("id")) {
        fail("{}: malformed added_tokens entry", where);
      }
      put(a["content"].get<std::string>(), a["id"]);
      special[a["id"].get<int64_t>()] = a.value("special", false);
    }
  }
  return by_id;
}

std::map<int64_t, std::string> vocab_from_vocab_txt(const fs::path& dir) {
  const fs::path cfg = dir / "tokenizer_config.json";
  if (fs::exists(cfg)) {
    const json c = read_json(cfg);
    if (!c.value("do_lower_case", true)) {
      fail("'{}': do_lower_case=false (cased BERT) is not supported", cfg.string());
    }
  }
  std::map<int64_t, std::string> by_id;
  std::istringstream in(read_text(dir / "vocab.txt"));
  std::string line;
  for (int64_t id = 0; std::getline(in, line); ++id) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    by_id[id] = line;
  }
  return by_id;
}

}  // namespace

std::string gguf_wordpiece_token(const std::string& hf_token) {
  if (hf_token.size() >= 2 && hf_token.front() == '[' && hf_token.back() == ']') return hf_token;
  if (hf_token.starts_with("##")) return hf_token.substr(2);
  return "\xE2\x96\x81" + hf_token;
}

static HfBertVocab read_vocab(const std::string& dir_name, size_t min_size) {
  const fs::path dir(dir_name);
  std::map<int64_t, std::string> by_id;
  std::map<int64_t, bool> special;  // added tokens: id → "special" flag
  const fs::path tj = dir / "tokenizer.json";
  if (fs::exists(tj)) {
    const json tok = read_json(tj);
    check_normalizer(tok, tj.string());
    by_id = vocab_from_tokenizer_json(tok, tj.string(), special);
  } else if (fs::exists(dir / "vocab.txt")) {
    by_id = vocab_from_vocab_txt(dir);
  } else {
    fail("'{}' has neither tokenizer.json nor vocab.txt", dir_name);
  }
  if (by_id.empty()) fail("'{}': the vocabulary is empty", dir_name);

  const size_t n = std::max<size_t>(min_size, static_cast<size_t>(by_id.rbegin()->first) + 1);
  HfBertVocab v;
  v.tokens.resize(n);
  v.token_types.assign(n, static_cast<int32_t>(TokenType::Normal));
  for (size_t i = 0; i < n; ++i) {
    auto it = by_id.find(static_cast<int64_t>(i));
    if (it == by_id.end()) {
      v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.token_types[i] = static_cast<int32_t>(TokenType::Unused);
    } else {
      v.tokens[i] = it->second;
    }
  }
  const SpecialNames names = read_special_names(dir);
  auto find = [&](const std::string& text) -> int32_t {
    for (size_t i = 0; i < n; ++i) {
      if (v.tokens[i] == text) return static_cast<int32_t>(i);
    }
    return -1;
  };
  v.cls_id = find(names.cls);
  v.sep_id = find(names.sep);
  v.pad_id = find(names.pad);
  v.unk_id = find(names.unk);
  v.mask_id = find(names.mask);
  if (v.cls_id < 0 || v.sep_id < 0 || v.unk_id < 0) {
    fail("'{}': the vocabulary lacks {} / {} / {}", dir_name, names.cls, names.sep, names.unk);
  }
  // Special tokens are CONTROL: added tokens flagged special (tokenizer.json), else the
  // five named ones (vocab.txt has no flags).
  for (const auto& [id, is_special] : special) {
    if (is_special) v.token_types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::Control);
  }
  if (special.empty()) {
    for (int32_t id : {v.cls_id, v.sep_id, v.pad_id, v.unk_id, v.mask_id}) {
      if (id >= 0) v.token_types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::Control);
    }
  }
  return v;
}

HfBertVocab read_hf_bert_vocab(const std::string& dir_name, size_t min_size) {
  // A well-formed JSON file of the wrong shape (a normalizer that is an array, a
  // strip_accents that is a number) makes the JSON library's accessors throw.
  try {
    return read_vocab(dir_name, min_size);
  } catch (const json::exception& e) {
    fail("'{}': a tokenizer file has an unexpected structure: {}", dir_name, e.what());
  }
}

}  // namespace ragd::model
