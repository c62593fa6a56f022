// Ollama's `logprobs` / `top_logprobs` on /api/chat and /api/generate: they set the
// generation's logprobs as the OpenAI chat fields do, and out-of-range or orphaned values
// are a 400 naming the field.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/ollama_request.h"

namespace ragd::server {
namespace {

using nlohmann::json;

json chat(json patch = json::object()) {
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.merge_patch(patch);
  return body;
}

json generate(json patch = json::object()) {
  json body = {{"model", "m"}, {"prompt", "hi"}};
  body.merge_patch(patch);
  return body;
}

void expect_400(const json& body, bool is_chat, const std::string& param) {
  GenerationDefaults d;
  try {
    is_chat ? parse_ollama_chat(body, d) : parse_ollama_generate(body, d);
    FAIL() << "accepted: " << body.dump();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), param) << e.what();
    EXPECT_NE(std::string(e.what()).find("'" + param + "'"), std::string::npos) << e.what();
  }
}

TEST(OllamaLogprobs, SetTheGenerationsLogprobs) {
  GenerationDefaults d;
  EXPECT_EQ(parse_ollama_chat(chat(), d).gen.options.logprobs, -1);
  EXPECT_EQ(parse_ollama_chat(chat({{"logprobs", false}}), d).gen.options.logprobs, -1);
  EXPECT_EQ(parse_ollama_chat(chat({{"logprobs", true}}), d).gen.options.logprobs, 0);
  EXPECT_EQ(parse_ollama_chat(chat({{"logprobs", true}, {"top_logprobs", 5}}), d).gen.options.logprobs, 5);
  EXPECT_EQ(parse_ollama_chat(chat({{"logprobs", true}, {"top_logprobs", 20}}), d).gen.options.logprobs, 20);
  EXPECT_EQ(parse_ollama_generate(generate({{"logprobs", true}, {"top_logprobs", 0}}), d).gen.options.logprobs, 0);
  EXPECT_EQ(parse_ollama_generate(generate({{"logprobs", true}, {"top_logprobs", 3}, {"raw", true}}), d)
                .gen.options.logprobs,
            3);
}

TEST(OllamaLogprobs, OutOfRangeOrWithoutLogprobsRefusedByName) {
  for (bool is_chat : {true, false}) {
    SCOPED_TRACE(is_chat ? "chat" : "generate");
    auto body = [&](json patch) { return is_chat ? chat(patch) : generate(patch); };
    expect_400(body({{"logprobs", true}, {"top_logprobs", 21}}), is_chat, "top_logprobs");
    expect_400(body({{"logprobs", true}, {"top_logprobs", -1}}), is_chat, "top_logprobs");
    expect_400(body({{"logprobs", true}, {"top_logprobs", 2.5}}), is_chat, "top_logprobs");
    expect_400(body({{"logprobs", true}, {"top_logprobs", "3"}}), is_chat, "top_logprobs");
    expect_400(body({{"top_logprobs", 3}}), is_chat, "top_logprobs");
    expect_400(body({{"logprobs", false}, {"top_logprobs", 3}}), is_chat, "top_logprobs");
    expect_400(body({{"logprobs", "yes"}}), is_chat, "logprobs");
    expect_400(body({{"logprobs", 1}}), is_chat, "logprobs");
  }
}

}  // namespace
}  // namespace ragd::server
