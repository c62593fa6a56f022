// llama-server's `grammar` field on /v1/chat/completions and /v1/completions: GBNF text →
// the grammar the output is constrained to, or a 400 naming `grammar` and, for a bad
// grammar, the line and column or the rule.
#include <gtest/gtest.h>

#include "engine/gbnf_recognizer.h"
#include "server/api_error.h"
#include "server/request_parsing.h"

namespace ragd::server {
namespace {

using nlohmann::json;

json chat(json patch) {
  json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  body.merge_patch(patch);
  return body;
}

json completion(json patch) {
  json body = {{"prompt", "x"}};
  body.merge_patch(patch);
  return body;
}

// The message of the 400 that parsing `body` as a chat request throws; "" if accepted.
std::string refusal(const json& body, bool as_completion = false) {
  try {
    if (as_completion) {
      parse_completion_request(body);
    } else {
      parse_chat_request(body);
    }
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "grammar") << e.what();
    return e.what();
  }
  return "";
}

bool accepts(const engine::GbnfGrammar& g, std::string_view text) {
  engine::GbnfRecognizer r(g);
  return r.feed(text) && r.complete();
}

TEST(GrammarRequest, ChatAndCompletionsCompileTheGrammar) {
  auto c = parse_chat_request(chat({{"grammar", "root ::= (\"yes\" | \"no\")"}})).gen.options;
  ASSERT_NE(c.grammar, nullptr);
  EXPECT_EQ(c.json_constraint, nullptr);
  EXPECT_TRUE(accepts(*c.grammar, "yes"));
  EXPECT_FALSE(accepts(*c.grammar, "maybe"));
  auto p = parse_completion_request(completion({{"grammar", "root ::= [0-9]+"}})).gen.options;
  ASSERT_NE(p.grammar, nullptr);
  EXPECT_TRUE(accepts(*p.grammar, "123"));
}

TEST(GrammarRequest, EmptyOrNullMeansNone) {
  // llama-server's default is "": clients that always send the field mean no grammar.
  EXPECT_EQ(parse_chat_request(chat({{"grammar", ""}})).gen.options.grammar, nullptr);
  EXPECT_EQ(parse_chat_request(chat({{"grammar", nullptr}})).gen.options.grammar, nullptr);
  EXPECT_EQ(parse_completion_request(completion({{"grammar", ""}})).gen.options.grammar, nullptr);
}

TEST(GrammarRequest, BadGrammarsAreA400NamingThePosition) {
  std::string m = refusal(chat({{"grammar", "root ::= \"yes"}}));
  EXPECT_NE(m.find("'grammar': line 1, column 10: unterminated string literal"), std::string::npos) << m;
  m = refusal(chat({{"grammar", "root ::= answer"}}));
  EXPECT_NE(m.find("undefined rule 'answer'"), std::string::npos) << m;
  m = refusal(completion({{"grammar", "root ::= root \"a\" | \"a\""}}), true);
  EXPECT_NE(m.find("rule 'root' is left-recursive"), std::string::npos) << m;
  m = refusal(chat({{"grammar", 42}}));
  EXPECT_NE(m.find("must be a string"), std::string::npos) << m;
}

TEST(GrammarRequest, OneConstraintAtATime) {
  json g = "root ::= \"x\"";
  std::string m = refusal(chat({{"grammar", g}, {"response_format", {{"type", "json_object"}}}}));
  EXPECT_NE(m.find("one output constraint at a time"), std::string::npos) << m;
  json schema = {{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", {{"type", "object"}}}}}};
  EXPECT_NE(refusal(chat({{"grammar", g}, {"response_format", schema}})), "");
  EXPECT_NE(refusal(completion({{"grammar", g}, {"response_format", {{"type", "json_object"}}}}), true), "");
  // response_format text constrains nothing, so it goes with a grammar.
  EXPECT_NE(parse_chat_request(chat({{"grammar", g}, {"response_format", {{"type", "text"}}}})).gen.options.grammar,
            nullptr);
  json tool = {{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}};
  m = refusal(chat({{"grammar", g}, {"tools", {tool}}}));
  EXPECT_NE(m.find("'tools'"), std::string::npos) << m;
  EXPECT_NE(refusal(chat({{"grammar", g}, {"tools", {tool}}, {"tool_choice", "required"}})), "");
  EXPECT_NE(parse_chat_request(chat({{"grammar", g}, {"tools", {tool}}, {"tool_choice", "none"}})).gen.options.grammar,
            nullptr);
  m = refusal(chat({{"grammar", g}, {"collection", "docs"}}));
  EXPECT_NE(m.find("'collection'"), std::string::npos) << m;
}

}  // namespace
}  // namespace ragd::server
