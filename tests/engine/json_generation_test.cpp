// Structured output end to end on stories260K (a real, tiny llama with byte tokens): the
// single-stream Generator and the serving Scheduler both honour
// GenerationOptions::json_constraint through make_sampler, give the same text for the same
// seed, stop as soon as the document is complete, and the text satisfies the schema.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/generator.h"
#include "engine/json_schema.h"
#include "engine/llm.h"
#include "engine/scheduler.h"

namespace ragd::engine {
namespace {

using ojson = nlohmann::ordered_json;

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

const ojson& schema() {
  static const ojson s = ojson::parse(R"({"type":"object","properties":{
      "name":{"type":"string","maxLength":8},"count":{"type":"integer"},"ok":{"type":"boolean"},
      "color":{"enum":["red","blue"]},"tags":{"type":"array","items":{"type":"string","maxLength":4},"maxItems":2}},
    "required":["name","count","ok","color","tags"],"additionalProperties":false})");
  return s;
}

void expect_valid(const std::string& text) {
  nlohmann::json v;
  ASSERT_NO_THROW(v = nlohmann::json::parse(text)) << text;
  ASSERT_TRUE(v.is_object()) << text;
  EXPECT_EQ(v.size(), 5u) << text;
  EXPECT_TRUE(v["name"].is_string() && v["count"].is_number_integer() && v["ok"].is_boolean()) << text;
  EXPECT_TRUE(v["color"] == "red" || v["color"] == "blue") << text;
  EXPECT_TRUE(v["tags"].is_array() && v["tags"].size() <= 2) << text;
  // The schema's property order (nlohmann::json sorts keys, so check the text).
  EXPECT_LT(text.find("\"name\""), text.find("\"count\"")) << text;
  EXPECT_LT(text.find("\"color\""), text.find("\"tags\"")) << text;
}

class JsonGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "no " << kModel;
    llm_ = Llm::load(kModel, 2);
  }
  GenerationOptions options(float temperature, uint64_t seed) const {
    GenerationOptions o;
    o.max_tokens = 400;
    o.sampling.temperature = temperature;
    o.sampling.seed = seed;
    o.json_constraint = JsonSchemaGrammar::compile(schema(), true);
    return o;
  }
  std::unique_ptr<Llm> llm_;
};

TEST_F(JsonGeneration, GeneratorAndSchedulerAgreeAndStopWhenComplete) {
  auto prompt = llm_->tokenizer->encode("Once upon a time", true, false);
  std::vector<GenerationOptions> runs{options(0.0f, 1), options(0.8f, 2), options(1.0f, 3)};
  std::vector<GenerationResult> alone;
  for (const auto& o : runs) {
    Generator gen(*llm_->model, *llm_->tokenizer, 512);
    alone.push_back(gen.generate(prompt, o));
    EXPECT_EQ(alone.back().finish, FinishReason::Stop) << alone.back().text;
    expect_valid(alone.back().text);
  }
  SchedulerOptions opt;
  opt.ctx_size = 512;
  opt.max_kv_cache_bytes = 4u << 20;
  Scheduler sched(*llm_, opt);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& o : runs) {
    auto a = sched.submit({prompt, o, 1, {}});
    ASSERT_EQ(a.status, AdmitStatus::Accepted) << a.message;
    streams.push_back(a.stream);
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(streams[i]->wait_all(), alone[i].text);
    EXPECT_EQ(streams[i]->summary().finish, FinishReason::Stop);
  }
}

TEST_F(JsonGeneration, MaxTokensCutsTheDocument) {
  auto o = options(0.0f, 1);
  o.max_tokens = 3;
  Generator gen(*llm_->model, *llm_->tokenizer, 512);
  auto r = gen.generate(llm_->tokenizer->encode("Once upon a time", true, false), o);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_TRUE(r.text.starts_with("{")) << r.text;
  EXPECT_FALSE(nlohmann::json::accept(r.text)) << r.text;
}

}  // namespace
}  // namespace ragd::engine
