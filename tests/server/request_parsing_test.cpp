// Request parsing: valid bodies become requests; every malformed body is an ApiError 400
// naming the field, never a crash or an uncaught JSON exception.
#include "server/request_parsing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// Expects parse(body) to throw ApiError 400 whose message contains `needle`.
template <typename F>
void expect_400(F&& parse, const std::string& needle) {
  try {
    parse();
    FAIL() << "expected an ApiError mentioning '" << needle << "'";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(e.body()["error"]["type"], "invalid_request_error");
  }
}

TEST(ParseJsonBody, AcceptsAnObject) {
  EXPECT_EQ(parse_json_body(R"({"a": 1})")["a"], 1);
}

TEST(ParseJsonBody, RejectsCorruptInput) {
  for (std::string body : {"", "{", "{\"a\":}", "nul", "{\"a\": 1,}", "\xff\xfe", "[1, 2", "{\"a\": \"\x01\"}"}) {
    expect_400([&] { parse_json_body(body); }, "");
  }
  expect_400([] { parse_json_body("[1, 2]"); }, "JSON object");
  expect_400([] { parse_json_body("42"); }, "JSON object");
  expect_400([] { parse_json_body("{\"a\":"); }, "invalid JSON");
}

TEST(ParseJsonBody, RefusesDeepNestingNamingTheLimit) {
  // 60,000 nested arrays (~120 KB) once overflowed the stack of whatever touched the value.
  std::string deep = R"({"filters": )" + std::string(60000, '[') + std::string(60000, ']') + "}";
  expect_400([&] { parse_json_body(deep); }, "JSON nesting deeper than 64 levels");
  std::string ok = R"({"a": )" + std::string(60, '[') + std::string(60, ']') + "}";
  EXPECT_TRUE(parse_json_body(ok).is_object());
}

TEST(ParseJsonBody, SyntaxErrorsSayWhereWithoutTheLibraryId) {
  try {
    parse_json_body("{\"a\": }");
    FAIL();
  } catch (const ApiError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("line 1, column 7"), std::string::npos) << m;
    EXPECT_EQ(m.find("json.exception"), std::string::npos) << m;
  }
}

TEST(StringField, NamesTheFieldAndType) {
  json body = {{"action", 5}, {"name", "x"}, {"none", nullptr}};
  EXPECT_EQ(string_field(body, "name"), "x");
  EXPECT_EQ(string_field(body, "none", "dflt"), "dflt");
  EXPECT_EQ(string_field(body, "missing", "dflt"), "dflt");
  expect_400([&] { string_field(body, "action"); }, "'action' must be a string, not a number");
}

TEST(WrongTypes, ContentPartTypeOfAnotherTypeIs400) {
  json body = {{"messages", {{{"role", "user"}, {"content", {{{"type", 5}, {"text", "hi"}}}}}}}};
  expect_400([&] { parse_chat_request(body); }, "only text parts");
}

TEST(CheckLogitBias, BanningEveryTokenIs400) {
  engine::SamplingParams s;
  const float ban = -std::numeric_limits<float>::infinity();
  for (int32_t id = 0; id < 10; ++id) s.logit_bias[id] = ban;
  expect_400([&] { check_logit_bias(s, 10); }, "logit_bias leaves no token that can be sampled");
  EXPECT_NO_THROW(check_logit_bias(s, 11));
  s.logit_bias[5] = 3.0f;  // one token left
  EXPECT_NO_THROW(check_logit_bias(s, 10));
  s.logit_bias[10] = 1.0f;
  expect_400([&] { check_logit_bias(s, 10); }, "not a token id of this model");
}

TEST(ParseChat, ReadsMessagesAndOptions) {
  json body = {{"model", "m"},
               {"messages", {{{"role", "system"}, {"content", "be brief"}},
                             {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "hi "}}, {{"type", "text"}, {"text", "there"}}}}}}},
               {"max_tokens", 12},
               {"temperature", 0},
               {"top_p", 0.5},
               {"seed", 7},
               {"stop", "END"},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"logit_bias", {{"42", -100}, {"7", 2.5}}},
               {"priority", 0},
               {"user", "alice"}};
  auto r = parse_chat_request(body);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "hi there");
  EXPECT_EQ(r.gen.model, "m");
  EXPECT_EQ(r.gen.options.max_tokens, 12u);
  EXPECT_EQ(r.gen.options.sampling.temperature, 0.0f);
  EXPECT_EQ(r.gen.options.sampling.top_p, 0.5f);
  EXPECT_EQ(r.gen.options.sampling.seed, 7u);
  EXPECT_EQ(r.gen.options.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(r.gen.stream);
  EXPECT_TRUE(r.gen.include_usage);
  EXPECT_TRUE(std::isinf(r.gen.options.sampling.logit_bias.at(42)));
  EXPECT_EQ(r.gen.options.sampling.logit_bias.at(7), 2.5f);
  EXPECT_EQ(r.gen.priority, 0u);
  EXPECT_EQ(r.gen.user, "alice");
}

TEST(ParseChat, MaxCompletionTokensWinsAndDefaultsApply) {
  GenerationDefaults d;
  d.max_tokens = 99;
  json base = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  EXPECT_EQ(parse_chat_request(base, d).gen.options.max_tokens, 99u);
  json both = base;
  both["max_tokens"] = 5;
  both["max_completion_tokens"] = 6;
  EXPECT_EQ(parse_chat_request(both, d).gen.options.max_tokens, 6u);
  json stops = base;
  stops["stop"] = {"a", "b"};
  EXPECT_EQ(parse_chat_request(stops).gen.options.stop.size(), 2u);
}

TEST(ParseChat, RejectsMalformedFields) {
  auto chat = [](json patch) {
    json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
    body.merge_patch(patch);
    return [body] { parse_chat_request(body); };
  };
  expect_400([] { parse_chat_request(json::object()); }, "'messages' is required");
  expect_400(chat({{"messages", json::array()}}), "non-empty array");
  expect_400(chat({{"messages", "hello"}}), "non-empty array");
  expect_400(chat({{"messages", {42}}}), "messages[0] must be an object");
  expect_400(chat({{"messages", {{{"content", "x"}}}}}), "role");
  expect_400(chat({{"messages", {{{"role", "user"}, {"content", 5}}}}}), "content");
  expect_400(chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}), "text parts");
  expect_400(chat({{"model", 3}}), "'model' must be a string");
  expect_400(chat({{"max_tokens", "ten"}}), "'max_tokens' must be an integer");
  expect_400(chat({{"max_tokens", 0}}), "'max_tokens' must be between");
  expect_400(chat({{"max_tokens", 1.5}}), "integer");
  expect_400(chat({{"temperature", "hot"}}), "'temperature' must be a number");
  expect_400(chat({{"temperature", -1}}), "temperature");
  expect_400(chat({{"top_p", 2}}), "top_p");
  expect_400(chat({{"presence_penalty", 3}}), "presence_penalty");
  expect_400(chat({{"stop", 5}}), "'stop'");
  expect_400(chat({{"stop", {"a", 1}}}), "'stop'");
  expect_400(chat({{"stop", {""}}}), "empty");
  expect_400(chat({{"n", 17}}), "'n' must be between 1 and 16");
  expect_400(chat({{"stream", "yes"}}), "'stream' must be true or false");
  expect_400(chat({{"stream_options", 1}}), "stream_options");
  expect_400(chat({{"logit_bias", {{"abc", 1}}}}), "not a token id");
  expect_400(chat({{"logit_bias", {{"5", 500}}}}), "logit_bias");
  expect_400(chat({{"logit_bias", "x"}}), "logit_bias");
  expect_400(chat({{"priority", 9}}), "'priority' must be between 0 and 2");
  expect_400(chat({{"seed", "s"}}), "'seed'");
}

TEST(ParseCompletion, PromptStringOrSingletonArray) {
  EXPECT_EQ(parse_completion_request({{"prompt", "abc"}}).prompt, "abc");
  EXPECT_EQ(parse_completion_request({{"prompt", {"abc"}}}).prompt, "abc");
  expect_400([] { parse_completion_request(json::object()); }, "'prompt' is required");
  expect_400([] { parse_completion_request({{"prompt", {"a", "b"}}}); }, "one prompt");
  expect_400([] { parse_completion_request({{"prompt", {1, 2}}}); }, "'prompt'");
}

TEST(ParseEmbedding, InputForms) {
  auto one = parse_embedding_request({{"input", "hi"}});
  EXPECT_EQ(one.inputs.size(), 1u);
  EXPECT_FALSE(one.base64);
  auto many = parse_embedding_request({{"input", {"a", "b"}}, {"encoding_format", "base64"}, {"model", "e"}});
  EXPECT_EQ(many.inputs.size(), 2u);
  EXPECT_TRUE(many.base64);
  EXPECT_EQ(many.model, "e");
  expect_400([] { parse_embedding_request(json::object()); }, "'input' is required");
  expect_400([] { parse_embedding_request({{"input", json::array()}}); }, "must not be empty");
  expect_400([] { parse_embedding_request({{"input", {1, 2, 3}}}); }, "token arrays");
  expect_400([] { parse_embedding_request({{"input", "x"}, {"encoding_format", "int8"}}); }, "encoding_format");
  expect_400([] { parse_embedding_request({{"input", {"a", "b", "c"}}}, 2); }, "at most 2");
}

TEST(ParseRag, FieldsAndDefaults) {
  auto r = parse_rag_query({{"question", "why?"}, {"collection", "docs"}, {"top_k", 3}, {"mode", "bm25"},
                            {"filters", {{"lang", "en"}}}, {"cache", false}});
  EXPECT_EQ(r.question, "why?");
  EXPECT_EQ(r.collection, "docs");
  EXPECT_EQ(r.top_k, 3u);
  EXPECT_EQ(r.mode, rag::SearchMode::Bm25);
  EXPECT_TRUE(r.mode_given);
  EXPECT_EQ(r.filters, std::vector<std::string>{"lang=en"});
  EXPECT_FALSE(r.use_cache);
  // top_k counts sources, not the sampler's candidates.
  EXPECT_EQ(r.gen.options.sampling.top_k, engine::SamplingParams{}.top_k);
  auto d = parse_rag_query({{"question", "q"}});
  EXPECT_FALSE(d.mode_given);
  EXPECT_TRUE(d.use_cache);
  expect_400([] { parse_rag_query(json::object()); }, "'question' is required");
  expect_400([] { parse_rag_query({{"question", "  "}}); }, "'question' is required");
  expect_400([] { parse_rag_query({{"question", "q"}, {"mode", "fuzzy"}}); }, "'mode'");
  expect_400([] { parse_rag_query({{"question", "q"}, {"top_k", 0}}); }, "'top_k'");
  expect_400([] { parse_rag_query({{"question", "q"}, {"filters", 3}}); }, "'filters'");
}

// Expects a 400 whose `param` is `field` and whose message names it.
template <typename F>
void expect_refused(F&& parse, const std::string& field, const std::string& needle = "is not supported by ragd yet") {
  try {
    parse();
    FAIL() << "expected '" << field << "' to be refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

json chat_with(json patch) {
  json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  body.merge_patch(patch);
  return body;
}

TEST(KnownFields, ChatRefusesWhatItDoesNotImplement) {
  json tool = {{"type", "function"}, {"function", {{"name", "f"}, {"parameters", json::object()}}}};
  for (auto [name, value] : std::vector<std::pair<std::string, json>>{
           {"typical_p", 0.5},
           {"functions", {tool}},
           {"function_call", "auto"},
           {"store", true},
           {"audio", {{"voice", "x"}}}}) {
    json body = chat_with({{name, value}});
    expect_refused([&] { parse_chat_request(body); }, name);
  }
  expect_refused([] { parse_chat_request(chat_with({{"temprature", 0.5}})); }, "temprature", "unknown field");
  // tool_choice without tools (server/tool_calls.h).
  expect_refused([] { parse_chat_request(chat_with({{"tool_choice", "auto"}})); }, "tool_choice",
                 "needs a non-empty 'tools'");
  // A message field ragd would drop is refused too.
  json named = {{"messages", {{{"role", "user"}, {"content", "x"}, {"name", "bob"}}}}};
  expect_refused([&] { parse_chat_request(named); }, "name");
  expect_refused([] { parse_chat_request(chat_with({{"stream_options", {{"include_obfuscation", true}}}})); },
                 "include_obfuscation", "unknown field");
  expect_400([] { parse_chat_request(chat_with({{"rag", {{"top_k", 2}}}})); }, "needs a 'collection'");
}

TEST(KnownFields, NoOpValuesAndNullsAreAccepted) {
  json body = chat_with({{"logprobs", false},
                         {"tools", json::array()},
                         {"tool_choice", "none"},
                         {"response_format", {{"type", "text"}}},
                         {"store", false},
                         {"n", 1},
                         {"top_logprobs", nullptr},
                         {"parallel_tool_calls", nullptr},
                         {"user", "u"},
                         {"seed", 3},
                         {"stream_options", {{"include_usage", false}}},
                         {"collection", nullptr}});
  EXPECT_NO_THROW(parse_chat_request(body));
  EXPECT_NO_THROW(parse_completion_request({{"prompt", "p"}, {"best_of", 1}, {"echo", true}, {"suffix", nullptr}}));
}

TEST(KnownFields, OtherEndpointsRefuseUnknownFields) {
  expect_refused([] { parse_completion_request({{"prompt", "p"}, {"suffix", "end"}}); }, "suffix");
  expect_refused([] { parse_completion_request({{"prompt", "p"}, {"best_of", 3}}); }, "best_of");
  expect_refused([] { parse_completion_request({{"prompt", "p"}, {"messages", json::array()}}); }, "messages",
                 "unknown field");
  expect_refused([] { parse_embedding_request({{"input", "x"}, {"truncate", true}}); }, "truncate");
  expect_refused([] { parse_embedding_request({{"input", "x"}, {"dimensions", 8}}); }, "dimensions",
                 "fixed size");
  EXPECT_NO_THROW(parse_embedding_request({{"input", "x"}, {"user", "u"}, {"encoding_format", "float"}}));
  expect_refused([] { parse_rag_query({{"question", "q"}, {"tools", json::array({1})}}); }, "tools");
  expect_refused([] { parse_rag_query({{"question", "q"}, {"colection", "docs"}}); }, "colection", "unknown field");
}

TEST(StopTokenIds, ParsedAndCheckedAgainstTheVocabulary) {
  auto r = parse_chat_request(chat_with({{"stop_token_ids", {2, 7}}}));
  EXPECT_EQ(r.gen.options.stop_token_ids, (std::vector<int32_t>{2, 7}));
  EXPECT_NO_THROW(check_stop_token_ids(r.gen.options, 8));
  expect_400([&] { check_stop_token_ids(r.gen.options, 7); }, "not a token id of this model");
  expect_400([] { parse_chat_request(chat_with({{"stop_token_ids", {-1}}})); }, "'stop_token_ids' must be");
  expect_400([] { parse_chat_request(chat_with({{"stop_token_ids", "2"}})); }, "'stop_token_ids' must be");
  expect_400([] { parse_chat_request(chat_with({{"stop_token_ids", std::vector<int>(65, 1)}})); }, "at most 64");
}

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(ApiError, OpenAiShape) {
  ApiError e(429, "slow down", "", "", "user_limit");
  e.with_retry_after(2);
  auto b = e.body();
  EXPECT_EQ(b["error"]["message"], "slow down");
  EXPECT_EQ(b["error"]["type"], "rate_limit_error");
  EXPECT_TRUE(b["error"]["param"].is_null());
  EXPECT_EQ(b["error"]["code"], "user_limit");
  EXPECT_EQ(e.retry_after(), 2);
  EXPECT_EQ(not_found("x", "model").body()["error"]["param"], "model");
  EXPECT_STREQ(error_type_for_status(401), "authentication_error");
  EXPECT_STREQ(error_type_for_status(503), "overloaded_error");
}

}  // namespace
}  // namespace ragd::server
