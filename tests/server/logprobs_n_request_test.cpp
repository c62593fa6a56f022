// Parsing of OpenAI `logprobs` / `top_logprobs` (chat: boolean + 0..20; completions: an
// integer 0..5) and `n` (1..16; refused with a RAG collection), and the per-choice seeds.
#include <gtest/gtest.h>

#include <set>

#include "server/api_error.h"
#include "server/request_parsing.h"

namespace ragd::server {
namespace {

using nlohmann::json;

json chat_with(json patch) {
  json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  body.merge_patch(patch);
  return body;
}

// The request fails with a 400 whose param is `field` and whose message names it.
template <typename F>
void expect_field_error(F&& parse, const std::string& field, const std::string& needle) {
  try {
    parse();
    FAIL() << "expected a 400 naming '" << field << "'";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LogprobsRequest, ChatLogprobsAndTopLogprobs) {
  EXPECT_EQ(parse_chat_request(chat_with(json::object())).gen.options.logprobs, -1);
  EXPECT_EQ(parse_chat_request(chat_with({{"logprobs", false}})).gen.options.logprobs, -1);
  EXPECT_EQ(parse_chat_request(chat_with({{"logprobs", true}})).gen.options.logprobs, 0);
  EXPECT_EQ(parse_chat_request(chat_with({{"logprobs", true}, {"top_logprobs", 0}})).gen.options.logprobs, 0);
  EXPECT_EQ(parse_chat_request(chat_with({{"logprobs", true}, {"top_logprobs", 20}})).gen.options.logprobs, 20);
  EXPECT_EQ(parse_chat_request(chat_with({{"logprobs", true}, {"top_logprobs", nullptr}})).gen.options.logprobs, 0);
  // As OpenAI: top_logprobs only together with logprobs: true.
  expect_field_error([] { parse_chat_request(chat_with({{"top_logprobs", 3}})); }, "top_logprobs", "requires");
  expect_field_error([] { parse_chat_request(chat_with({{"logprobs", false}, {"top_logprobs", 0}})); },
                     "top_logprobs", "requires");
  expect_field_error([] { parse_chat_request(chat_with({{"logprobs", true}, {"top_logprobs", 21}})); },
                     "top_logprobs", "between 0 and 20");
  expect_field_error([] { parse_chat_request(chat_with({{"logprobs", true}, {"top_logprobs", -1}})); },
                     "top_logprobs", "between 0 and 20");
  expect_field_error([] { parse_chat_request(chat_with({{"logprobs", true}, {"top_logprobs", 2.5}})); },
                     "top_logprobs", "integer");
  expect_field_error([] { parse_chat_request(chat_with({{"logprobs", 2}})); }, "logprobs", "true or false");
}

TEST(LogprobsRequest, CompletionLogprobsIsACount) {
  auto parse = [](json patch) {
    json body = {{"prompt", "p"}};
    body.merge_patch(patch);
    return parse_completion_request(body);
  };
  EXPECT_EQ(parse(json::object()).gen.options.logprobs, -1);
  EXPECT_EQ(parse({{"logprobs", nullptr}}).gen.options.logprobs, -1);
  EXPECT_EQ(parse({{"logprobs", 0}}).gen.options.logprobs, 0);
  EXPECT_EQ(parse({{"logprobs", 5}}).gen.options.logprobs, 5);
  expect_field_error([&] { parse({{"logprobs", 6}}); }, "logprobs", "between 0 and 5");
  expect_field_error([&] { parse({{"logprobs", true}}); }, "logprobs", "integer");
  // top_logprobs is the chat API's field.
  expect_field_error([&] { parse({{"top_logprobs", 2}}); }, "top_logprobs", "not supported");
}

TEST(ChoicesRequest, NBetweenOneAndSixteen) {
  EXPECT_EQ(parse_chat_request(chat_with(json::object())).gen.n, 1u);
  EXPECT_EQ(parse_chat_request(chat_with({{"n", 3}})).gen.n, 3u);
  EXPECT_EQ(parse_completion_request({{"prompt", "p"}, {"n", 16}}).gen.n, 16u);
  expect_field_error([] { parse_chat_request(chat_with({{"n", 0}})); }, "n", "between 1 and 16");
  expect_field_error([] { parse_chat_request(chat_with({{"n", 17}})); }, "n", "between 1 and 16");
  expect_field_error([] { parse_chat_request(chat_with({{"n", "2"}})); }, "n", "integer");
}

TEST(ChoicesRequest, RagRefusesSeveralChoicesAndLogprobsByName) {
  expect_field_error([] { parse_chat_request(chat_with({{"collection", "docs"}, {"n", 2}})); }, "n", "collection");
  expect_field_error([] { parse_chat_request(chat_with({{"collection", "docs"}, {"logprobs", true}})); },
                     "logprobs", "collection");
  EXPECT_NO_THROW(parse_chat_request(chat_with({{"collection", "docs"}, {"n", 1}, {"logprobs", false}})));
  expect_field_error([] { parse_rag_query({{"question", "q"}, {"n", 2}}); }, "n", "/v1/rag/query");
}

TEST(ChoicesRequest, ChoiceSeedsDifferAndAreReproducible) {
  EXPECT_EQ(choice_seed(42, 0), 42u);  // one choice samples exactly as before
  std::set<uint64_t> seen;
  for (size_t i = 0; i < 16; ++i) seen.insert(choice_seed(42, i));
  EXPECT_EQ(seen.size(), 16u);
  EXPECT_EQ(choice_seed(42, 5), choice_seed(42, 5));
  EXPECT_NE(choice_seed(42, 1), choice_seed(43, 1));
}

}  // namespace
}  // namespace ragd::server
