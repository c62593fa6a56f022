// Ollama request bodies: options map onto the shared generation fields, keep_alive reads
// Ollama's durations, and every field ragd does not implement is a 400 naming it.
#include "server/ollama_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace ragd::server {
namespace {

using nlohmann::json;

template <typename F>
void expect_400(F&& parse, const std::string& param, const std::string& needle) {
  try {
    parse();
    FAIL() << "expected a 400 naming '" << param << "'";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), param) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

json chat(json patch = json::object()) {
  json body = {{"model", "m:latest"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.merge_patch(patch);
  return body;
}

TEST(OllamaChat, OptionsBecomeGenerationParams) {
  GenerationDefaults d;
  auto r = parse_ollama_chat(chat({{"options",
                                    {{"temperature", 0},
                                     {"top_p", 0.5},
                                     {"top_k", 7},
                                     {"min_p", 0.1},
                                     {"seed", 3},
                                     {"num_predict", 12},
                                     {"stop", {"END"}},
                                     {"repeat_penalty", 1.1},
                                     {"presence_penalty", 0.2},
                                     {"frequency_penalty", 0.3},
                                     {"num_ctx", 512}}},
                                   {"keep_alive", "10m"}}),
                             d);
  EXPECT_EQ(r.gen.model, "m");  // ":latest" dropped
  EXPECT_TRUE(r.gen.stream);    // Ollama streams unless told not to
  const auto& s = r.gen.options.sampling;
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_p, 0.5f);
  EXPECT_EQ(s.top_k, 7);
  EXPECT_FLOAT_EQ(s.min_p, 0.1f);
  EXPECT_EQ(s.seed, 3u);
  EXPECT_FLOAT_EQ(s.repeat_penalty, 1.1f);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.2f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, 0.3f);
  EXPECT_EQ(r.gen.options.max_tokens, 12u);
  EXPECT_EQ(r.gen.options.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.num_ctx, 512u);
  EXPECT_EQ(r.keep_alive_seconds, 600.0);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content, "hi");
  EXPECT_FALSE(r.load_only);
  // -1 ("until done") is the server's limit; without num_predict, its default.
  EXPECT_EQ(parse_ollama_chat(chat({{"options", {{"num_predict", -1}}}}), d).gen.options.max_tokens, d.max_tokens_limit);
  EXPECT_EQ(parse_ollama_chat(chat({{"stream", false}}), d).gen.options.max_tokens, d.max_tokens);
  EXPECT_FALSE(parse_ollama_chat(chat({{"stream", false}}), d).gen.stream);
}

TEST(OllamaChat, NoOpValuesAcceptedOthersRefusedByName) {
  GenerationDefaults d;
  // What the ollama client sends for a plain chat: tools as an empty list.
  EXPECT_NO_THROW(parse_ollama_chat(chat({{"tools", json::array()}, {"format", ""}, {"think", false},
                                          {"logprobs", false}}), d));
  // format: "json" or a schema constrains the output (tests/server/response_format_test.cpp).
  EXPECT_NE(parse_ollama_chat(chat({{"format", "json"}}), d).gen.options.json_constraint, nullptr);
  expect_400([&] { parse_ollama_chat(chat({{"format", "xml"}}), d); }, "format", "\"json\" or a JSON schema");
  expect_400([&] { parse_ollama_chat(chat({{"format", {{"type", "object"}, {"not", json::object()}}}}), d); }, "format",
             "'format': 'not' is not supported");
  expect_400([&] { parse_ollama_chat(chat({{"tools", {{{"type", "function"}}}}}), d); }, "tools", "not supported");
  expect_400([&] { parse_ollama_chat(chat({{"think", true}}), d); }, "think", "not supported");
  expect_400([&] { parse_ollama_chat(chat({{"options", {{"mirostat", 1}}}}), d); }, "mirostat", "not supported");
  expect_400([&] { parse_ollama_chat(chat({{"options", {{"num_thread", 4}}}}), d); }, "num_thread", "not supported");
  expect_400([&] { parse_ollama_chat(chat({{"options", {{"temprature", 0}}}}), d); }, "temprature", "unknown field");
  expect_400([&] { parse_ollama_chat(chat({{"options", {{"num_predict", 0}}}}), d); }, "num_predict", "positive");
  expect_400([&] { parse_ollama_chat(chat({{"options", {{"temperature", "hot"}}}}), d); }, "temperature", "number");
  expect_400([&] { parse_ollama_chat(chat({{"options", {{"num_ctx", 0}}}}), d); }, "num_ctx", "positive");
  json image_turn = chat({{"messages", {{{"role", "user"}, {"content", "x"}, {"images", {"aGk="}}}}}});
  expect_400([&] { parse_ollama_chat(image_turn, d); }, "images", "not supported");
  EXPECT_TRUE(parse_ollama_chat(chat({{"messages", json::array()}}), d).load_only);
}

TEST(OllamaGenerate, TemplateOrRaw) {
  GenerationDefaults d;
  auto r = parse_ollama_generate({{"model", "m"}, {"prompt", "tell me"}, {"system", "be brief"}}, d);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "tell me");
  EXPECT_FALSE(r.raw);
  auto raw = parse_ollama_generate({{"model", "m"}, {"prompt", "Once"}, {"raw", true}}, d);
  EXPECT_TRUE(raw.raw);
  EXPECT_EQ(raw.raw_prompt, "Once");
  EXPECT_TRUE(parse_ollama_generate({{"model", "m"}}, d).load_only);
  expect_400([&] { parse_ollama_generate({{"prompt", "x"}, {"raw", true}, {"system", "s"}}, d); }, "system", "raw");
  expect_400([&] { parse_ollama_generate({{"prompt", "x"}, {"suffix", "end"}}, d); }, "suffix", "not supported");
  expect_400([&] { parse_ollama_generate({{"prompt", "x"}, {"context", {1, 2}}}, d); }, "context", "not supported");
  expect_400([&] { parse_ollama_generate({{"prompt", "x"}, {"template", "{{ .Prompt }}"}}, d); }, "template",
             "not supported");
}

TEST(OllamaEmbed, InputFormsAndRefusals) {
  auto r = parse_ollama_embed({{"model", "e"}, {"input", {"a", "b"}}, {"truncate", false}}, false);
  EXPECT_EQ(r.inputs.size(), 2u);
  EXPECT_FALSE(r.truncate);
  auto old = parse_ollama_embed({{"model", "e"}, {"prompt", "a"}}, true);
  EXPECT_EQ(old.inputs, std::vector<std::string>{"a"});
  expect_400([] { parse_ollama_embed({{"model", "e"}, {"input", "a"}, {"dimensions", 8}}, false); }, "dimensions",
             "not supported");
  expect_400([] { parse_ollama_embed({{"model", "e"}, {"input", "a"}}, true); }, "input", "unknown field");
  expect_400([] { parse_ollama_embed({{"model", "e"}, {"input", json::array()}}, false); }, "input", "empty");
  expect_400([] { parse_ollama_embed({{"model", "e"}, {"input", "a"}, {"options", {{"num_ctx", 8}}}}, false); },
             "num_ctx", "takes no fields");
}

TEST(KeepAlive, SecondsAndGoDurations) {
  EXPECT_EQ(parse_keep_alive(30), 30.0);
  EXPECT_EQ(parse_keep_alive("30"), 30.0);
  EXPECT_EQ(parse_keep_alive("5m"), 300.0);
  EXPECT_EQ(parse_keep_alive("1h30m"), 5400.0);
  EXPECT_EQ(parse_keep_alive("1.5h"), 5400.0);
  EXPECT_DOUBLE_EQ(parse_keep_alive("300ms"), 0.3);
  EXPECT_EQ(parse_keep_alive("0"), 0.0);
  EXPECT_EQ(parse_keep_alive(-1), -1.0);
  EXPECT_EQ(parse_keep_alive("-1m"), -60.0);
  for (json bad : {json("soon"), json("5x"), json(""), json("m"), json(true), json::array()}) {
    expect_400([&] { parse_keep_alive(bad); }, "keep_alive", "duration");
  }
}

TEST(OllamaModelName, LatestTagIsDropped) {
  EXPECT_EQ(ollama_model_name("m:latest"), "m");
  EXPECT_EQ(ollama_model_name("m"), "m");
  EXPECT_EQ(ollama_model_name("m:7b"), "m:7b");
}

}  // namespace
}  // namespace ragd::server
