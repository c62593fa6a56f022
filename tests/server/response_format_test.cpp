// Structured-output fields: OpenAI's response_format (chat and completions) and Ollama's
// format → the grammar the output is constrained to, or a 400 naming the field.
#include <gtest/gtest.h>

#include "engine/json_recognizer.h"
#include "server/api_error.h"
#include "server/ollama_request.h"
#include "server/request_parsing.h"

namespace ragd::server {
namespace {

using nlohmann::json;

json chat_body(json response_format) {
  return {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"response_format", std::move(response_format)}};
}

std::string refusal(const json& body, std::string_view raw = {}) {
  try {
    parse_chat_request(body, {}, raw);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "response_format") << e.what();
    return e.what();
  }
  return "";
}

bool accepts(const engine::JsonSchemaGrammar& g, std::string_view text) {
  engine::JsonRecognizer r(g);
  return r.feed(text) && r.complete();
}

TEST(ResponseFormat, TextJsonObjectAndJsonSchema) {
  EXPECT_EQ(parse_chat_request(chat_body({{"type", "text"}})).gen.options.json_constraint, nullptr);
  auto object = parse_chat_request(chat_body({{"type", "json_object"}})).gen.options.json_constraint;
  ASSERT_NE(object, nullptr);
  EXPECT_TRUE(accepts(*object, R"({"any": [1, "thing"]})"));
  EXPECT_FALSE(accepts(*object, R"([1])"));

  json schema = {{"type", "object"},
                 {"properties", {{"n", {{"type", "integer"}}}}},
                 {"required", json::array({"n"})},
                 {"additionalProperties", false}};
  auto g = parse_chat_request(chat_body({{"type", "json_schema"},
                                         {"json_schema", {{"name", "n"}, {"strict", true}, {"schema", schema}}}}))
               .gen.options.json_constraint;
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(accepts(*g, R"({"n": 3})"));
  EXPECT_FALSE(accepts(*g, R"({"n": "3"})"));

  json completion = {{"prompt", "x"}, {"response_format", {{"type", "json_object"}}}};
  EXPECT_NE(parse_completion_request(completion).gen.options.json_constraint, nullptr);
}

TEST(ResponseFormat, RefusalsNameTheProblem) {
  EXPECT_NE(refusal(chat_body({{"type", "xml"}})).find("must be \"text\", \"json_object\" or \"json_schema\""),
            std::string::npos);
  EXPECT_NE(refusal(chat_body("json")).find("must be an object"), std::string::npos);
  EXPECT_NE(refusal(chat_body({{"type", "json_schema"}})).find("'response_format.json_schema' must be an object"),
            std::string::npos);
  json pattern = {{"type", "json_schema"},
                  {"json_schema", {{"name", "x"}, {"schema", {{"type", "object"}, {"patternProperties", json::object()}}}}}};
  EXPECT_NE(refusal(chat_body(pattern)).find("'response_format.json_schema.schema': 'patternProperties' is not supported"),
            std::string::npos);
  json open = {{"type", "json_schema"},
               {"json_schema", {{"name", "x"}, {"strict", true}, {"schema", {{"type", "object"}, {"additionalProperties", true}}}}}};
  EXPECT_NE(refusal(chat_body(open)).find("strict mode"), std::string::npos);
  json rag = chat_body({{"type", "json_object"}});
  rag["collection"] = "docs";
  EXPECT_NE(refusal(rag).find("not supported with a 'collection'"), std::string::npos);
}

TEST(ResponseFormat, RawBodyKeepsTheSchemaPropertyOrder) {
  const std::string raw = R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema",
    "json_schema":{"name":"o","schema":{"type":"object","properties":{"zeta":{"type":"integer"},"alpha":{"type":"integer"}},
    "required":["zeta","alpha"]}}}})";
  json body = parse_json_body(raw);
  auto ordered = parse_chat_request(body, {}, raw).gen.options.json_constraint;
  EXPECT_TRUE(accepts(*ordered, R"({"zeta":1,"alpha":2})"));
  EXPECT_FALSE(accepts(*ordered, R"({"alpha":2,"zeta":1})"));
  auto sorted = parse_chat_request(body).gen.options.json_constraint;  // no text: sorted keys
  EXPECT_TRUE(accepts(*sorted, R"({"alpha":2,"zeta":1})"));
}

TEST(OllamaFormat, JsonOrSchema) {
  json chat = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}};
  EXPECT_EQ(parse_ollama_chat(chat, {}).gen.options.json_constraint, nullptr);
  chat["format"] = "json";
  EXPECT_NE(parse_ollama_chat(chat, {}).gen.options.json_constraint, nullptr);
  json generate = {{"model", "m"}, {"prompt", "x"}, {"format", {{"type", "object"}, {"properties", {{"a", {{"type", "boolean"}}}}}, {"required", json::array({"a"})}}}};
  auto g = parse_ollama_generate(generate, {}).gen.options.json_constraint;
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(accepts(*g, R"({"a": true})"));
  EXPECT_FALSE(accepts(*g, R"({})"));
}

}  // namespace
}  // namespace ragd::server
