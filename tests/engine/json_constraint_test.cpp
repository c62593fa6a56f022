// Constrained sampling (engine/json_constraint.h through Sampler): with real vocabularies
// (GPT-2 BPE and Llama SentencePiece with byte tokens, from ../shared/data/tokenizer) and
// random logits in place of a model, every finished output must parse as JSON and satisfy
// its schema, checked by an independent validator below.
#include "engine/json_constraint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <random>

#include "engine/generator.h"
#include "engine/output_processor.h"
#include "engine/sampler.h"
#include "model/gguf.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

using json = nlohmann::ordered_json;

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool has_type(const json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  return false;
}

// The schema subset of engine/json_schema.h, written from the JSON Schema rules.
bool validates(const json& v, const json& s, const json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) {
    std::string name = s["$ref"].get<std::string>().substr(std::string("#/$defs/").size());
    return validates(v, root["$defs"][name], root);
  }
  if (s.contains("anyOf")) {
    for (const auto& alt : s["anyOf"]) {
      if (validates(v, alt, root)) return true;
    }
    return false;
  }
  if (s.contains("enum") && std::ranges::find(s["enum"], v) == s["enum"].end()) return false;
  if (s.contains("const") && s["const"] != v) return false;
  if (s.contains("type")) {
    json types = s["type"].is_array() ? s["type"] : json::array({s["type"]});
    if (std::ranges::none_of(types, [&](const json& t) { return has_type(v, t.get<std::string>()); })) return false;
  }
  if (v.is_object()) {
    for (const auto& r : s.value("required", json::array())) {
      if (!v.contains(r.get<std::string>())) return false;
    }
    for (const auto& [key, value] : v.items()) {
      if (s.contains("properties") && s["properties"].contains(key)) {
        if (!validates(value, s["properties"][key], root)) return false;
      } else if (s.contains("additionalProperties") && !validates(value, s["additionalProperties"], root)) {
        return false;
      }
    }
  }
  if (v.is_array()) {
    if (v.size() < s.value("minItems", size_t{0}) || v.size() > s.value("maxItems", SIZE_MAX)) return false;
    for (const auto& item : v) {
      if (s.contains("items") && !validates(item, s["items"], root)) return false;
    }
  }
  if (v.is_string()) {
    size_t n = code_points(v.get<std::string>());
    if (n < s.value("minLength", size_t{0}) || n > s.value("maxLength", SIZE_MAX)) return false;
  }
  return true;
}

const json& schemas() {
  static const json all = json::array({
      json::parse(R"({"type":"object"})"),  // stands for json_object
      json::parse(R"({"type":"object","properties":{
          "name":{"type":"string","maxLength":12},
          "age":{"type":"integer"},
          "score":{"type":"number"},
          "tags":{"type":"array","items":{"enum":["red","green","blue"]},"minItems":1,"maxItems":3},
          "address":{"type":"object","properties":{"city":{"type":"string","maxLength":8},
                     "zip":{"anyOf":[{"type":"string","maxLength":5},{"type":"null"}]}},
                     "required":["city"],"additionalProperties":false},
          "ok":{"type":"boolean"}},
        "required":["name","age","tags","address"],"additionalProperties":false})"),
      json::parse(R"({"$defs":{"Item":{"type":"object","properties":{"id":{"type":"integer"},
                        "kind":{"const":"box"},"note":{"type":["string","null"],"maxLength":6}},
                        "required":["id","kind","note"],"additionalProperties":false}},
                      "type":"object","properties":{"items":{"type":"array","items":{"$ref":"#/$defs/Item"},"maxItems":4}},
                      "required":["items"],"additionalProperties":false})"),
  });
  return all;
}

class JsonConstraintTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string path = std::string(RAGD_SHARED_DIR) + "/data/tokenizer/" + GetParam();
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    file_ = model::GgufFile::open(path);
    tokenizer_ = model::Tokenizer::from_gguf(*file_);
  }

  // Random logits that favour tokens which close strings and containers, standing in for a
  // model that finishes its answers (pure noise would write strings until max_tokens).
  std::vector<float> random_logits(std::mt19937& rng) {
    std::normal_distribution<float> noise(0.0f, 1.0f);
    std::vector<float> logits(tokenizer_->vocab_size());
    for (size_t i = 0; i < logits.size(); ++i) {
      const std::string& piece = tokenizer_->token_to_piece(static_cast<int32_t>(i));
      const bool closes = piece.find_first_of("\"]}") != std::string::npos;
      logits[i] = noise(rng) + (closes ? 4.0f : 0.0f);
    }
    return logits;
  }

  // Generates up to max_tokens; returns the text and whether the document was completed.
  std::pair<std::string, bool> generate(const json& schema, SamplingParams params, std::mt19937& rng, size_t max_tokens) {
    GenerationOptions options;
    options.sampling = params;
    options.json_constraint = JsonSchemaGrammar::compile(schema);
    Sampler sampler = make_sampler(options, *tokenizer_);
    std::string text;
    std::vector<int32_t> history;
    for (size_t i = 0; i < max_tokens; ++i) {
      auto logits = random_logits(rng);
      const int32_t id = sampler.sample(logits, history);
      history.push_back(id);
      if (ends_generation(options, *tokenizer_, id)) return {text, true};
      text += tokenizer_->token_to_piece(id);
      if (sampler.constraint_done()) return {text, true};
    }
    return {text, false};
  }

  std::unique_ptr<model::GgufFile> file_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
};

TEST_P(JsonConstraintTest, EveryFinishedOutputParsesAndValidates) {
  std::mt19937 rng(1234);
  size_t finished = 0, runs = 0;
  for (const json& schema : schemas()) {
    for (int run = 0; run < 4; ++run) {
      SamplingParams params;
      params.temperature = run == 0 ? 0.0f : 1.0f;
      params.top_k = run == 3 ? 0 : 40;
      params.seed = static_cast<uint64_t>(run);
      auto [text, done] = generate(schema, params, rng, 160);
      ++runs;
      if (!done) continue;  // max_tokens: the output is a valid prefix, checked below
      ++finished;
      json value;
      ASSERT_NO_THROW(value = json::parse(text)) << text;
      EXPECT_TRUE(validates(value, schema, schema)) << schema.dump() << "\n" << text;
    }
  }
  EXPECT_GE(finished * 4, runs * 3) << "too few outputs finished within the token budget";
}

TEST_P(JsonConstraintTest, MaskKeepsOnlyTheBestValidTokens) {
  JsonConstraint c(JsonSchemaGrammar::any_object(), *tokenizer_);
  std::mt19937 rng(7);
  auto logits = random_logits(rng);
  c.mask(logits, 5);
  size_t finite = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] == -std::numeric_limits<float>::infinity()) continue;
    ++finite;
    const std::string& piece = tokenizer_->token_to_piece(static_cast<int32_t>(i));
    EXPECT_EQ(piece[0], '{') << piece;  // every JSON object starts with '{'
  }
  EXPECT_GE(finite, 1u);
  EXPECT_LE(finite, 5u);
  // End-of-generation is invalid until the document is complete, then the only choice.
  const int32_t eog = tokenizer_->end_of_generation_ids().empty() ? -1 : tokenizer_->end_of_generation_ids()[0];
  if (eog >= 0) {
    EXPECT_FALSE(c.valid(eog));
  }
  auto brace = tokenizer_->find_token("{");
  ASSERT_TRUE(brace.has_value());
  EXPECT_TRUE(c.valid(*brace));
  c.accept(*brace);
  EXPECT_THROW(c.accept(*brace), Error);  // "{{" is not JSON
  auto close = tokenizer_->find_token("}");
  ASSERT_TRUE(close.has_value());
  c.accept(*close);
  EXPECT_TRUE(c.done());
  if (eog >= 0) {
    EXPECT_TRUE(c.valid(eog));
  }
  EXPECT_FALSE(c.valid(*brace));
}

TEST_P(JsonConstraintTest, BanningEveryValidTokenIsAnError) {
  GenerationOptions options;
  options.sampling.temperature = 0.0f;
  for (size_t i = 0; i < tokenizer_->vocab_size(); ++i) {
    if (tokenizer_->token_to_piece(static_cast<int32_t>(i)).starts_with("{")) {
      options.sampling.logit_bias[static_cast<int32_t>(i)] = -std::numeric_limits<float>::infinity();
    }
  }
  options.json_constraint = JsonSchemaGrammar::any_object();
  Sampler sampler = make_sampler(options, *tokenizer_);
  std::vector<float> logits(tokenizer_->vocab_size(), 0.0f);
  EXPECT_THROW(sampler.sample(logits, {}), Error);
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, JsonConstraintTest,
                         ::testing::Values("ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"),
                         [](const auto& info) { return std::string(info.param).find("gpt") != std::string::npos ? "Gpt2" : "LlamaSpm"; });

}  // namespace
}  // namespace ragd::engine
