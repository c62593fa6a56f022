// The GBNF parser and compiler (engine/gbnf_grammar.h): grammars in the style of
// llama.cpp's samples compile, and malformed or hostile ones are refused with a message
// that names the position or the rule.
#include "engine/gbnf_grammar.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "engine/gbnf_recognizer.h"
#include "gbnf_samples.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

// The message of the ragd::Error that parsing `text` throws ("" if it compiles).
std::string error_of(std::string_view text) {
  try {
    GbnfGrammar::parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_REFUSED(text, fragment)                                        \
  do {                                                                        \
    const std::string message = error_of(text);                               \
    EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message; \
  } while (0)

TEST(GbnfGrammar, SampleGrammarsCompile) {
  for (const auto& sample : gbnf_samples()) {
    SCOPED_TRACE(sample.name);
    std::shared_ptr<const GbnfGrammar> g;
    ASSERT_NO_THROW(g = GbnfGrammar::parse(sample.text));
    EXPECT_EQ(g->rule_name(g->root()), "root");
  }
}

TEST(GbnfGrammar, GroupsAndRepetitionsBecomeGeneratedRules) {
  auto g = GbnfGrammar::parse("root ::= (\"a\" | \"b\")+ [0-9]{2,3}\n");
  // root, the group, its '+' rule and the one optional copy of [0-9].
  EXPECT_EQ(g->rule_count(), 4u);
  for (size_t r = 0; r < g->rule_count(); ++r) {
    if (static_cast<uint32_t>(r) != g->root()) {
      EXPECT_TRUE(g->rule_name(static_cast<uint32_t>(r)).starts_with("root_"));
    }
  }
}

TEST(GbnfGrammar, CharacterClassesAreNormalised) {
  // Negation, overlapping ranges and escapes: [^a-cb-d\x41] is everything but A and a..d.
  auto g = GbnfGrammar::parse("root ::= [^a-cb-d\\x41]\n");
  const uint32_t pos = g->alternatives(g->root())[0];
  EXPECT_FALSE(g->matches(pos, 'a'));
  EXPECT_FALSE(g->matches(pos, 'd'));
  EXPECT_FALSE(g->matches(pos, 'A'));
  EXPECT_TRUE(g->matches(pos, 'e'));
  EXPECT_TRUE(g->matches(pos, 0x10FFFF));
  EXPECT_FALSE(g->matches(pos, 0xD800));  // surrogates are never characters
  EXPECT_TRUE(g->intersects(pos, 'a', 'e'));
  EXPECT_FALSE(g->intersects(pos, 'a', 'd'));
}

TEST(GbnfGrammar, EscapesAndUtf8Literals) {
  auto g = GbnfGrammar::parse("root ::= \"\\x41\\u00e9\\U0001F600\\t\\\"\\\\\" \"é\"\n");
  GbnfRecognizer r(*g);
  EXPECT_TRUE(r.feed("A\xC3\xA9\xF0\x9F\x98\x80\t\"\\\xC3\xA9"));
  EXPECT_TRUE(r.complete());
}

TEST(GbnfGrammar, CommentsAndLineRules) {
  const char* text =
      "# a comment line\n"
      "root ::= a   # trailing comment\n"
      "   | b\n"  // a line that starts with '|' continues nothing: refused below
      ;
  EXPECT_REFUSED(text, "line 3");
  auto g = GbnfGrammar::parse("root ::= a | # after the bar, the rule continues\n  b\na ::= \"a\"\nb ::= \"b\"\n");
  GbnfRecognizer r(*g);
  EXPECT_TRUE(r.feed("b"));
  EXPECT_TRUE(r.complete());
}

TEST(GbnfGrammar, MalformedGrammarsNameThePosition) {
  EXPECT_REFUSED("", "no 'root' rule");
  EXPECT_REFUSED("item ::= \"a\"\n", "no 'root' rule");
  EXPECT_REFUSED("root ::= \"abc", "line 1, column 10: unterminated string literal");
  EXPECT_REFUSED("root ::= [a-z", "unterminated character class");
  EXPECT_REFUSED("root ::= \"a\\", "unterminated string literal");
  EXPECT_REFUSED("root ::= foo\n", "line 1, column 10: undefined rule 'foo'");
  EXPECT_REFUSED("root ::= \"a\"\nroot ::= \"b\"\n", "line 2, column 1: rule 'root' is defined twice");
  EXPECT_REFUSED("root = \"a\"\n", "expected '::=' after the rule name 'root'");
  EXPECT_REFUSED("::= \"a\"\n", "expected a rule name");
  EXPECT_REFUSED("root ::= [z-a]\n", "reversed");
  EXPECT_REFUSED("root ::= [^\\x00-\\U0010FFFF]\n", "matches no character");
  EXPECT_REFUSED("root ::= \"\\q\"\n", "unknown escape '\\q'");
  EXPECT_REFUSED("root ::= \"\\x4\"\n", "needs 2 hex digits");
  EXPECT_REFUSED("root ::= \"\\U00110000\"\n", "beyond the last Unicode code point");
  EXPECT_REFUSED("root ::= \"\\uD800\"\n", "surrogate");
  EXPECT_REFUSED("root ::= \"\xC3\"\n", "invalid UTF-8");
  EXPECT_REFUSED("root ::= \"\xC0\x80\"\n", "invalid UTF-8");  // overlong
  EXPECT_REFUSED("root ::= * \"a\"\n", "'*' must follow an item");
  EXPECT_REFUSED("root ::= {2}\n", "'{' must follow an item");
  EXPECT_REFUSED("root ::= (\"a\"\n", "'(' is never closed");
  EXPECT_REFUSED("root ::= \"a\")\n", "expected the end of rule 'root' (found ')')");
  EXPECT_REFUSED("root ::= <think>\n", "found '<'");
  EXPECT_REFUSED("root ::= \"a\"{3,1}\n", "maximum below its minimum");
  EXPECT_REFUSED("root ::= \"a\"{x}\n", "expected a number");
  EXPECT_REFUSED("root ::= \"a\"{2\n", "expected '}'");
}

TEST(GbnfGrammar, LeftRecursionIsRefusedNamingTheRule) {
  EXPECT_REFUSED("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]\n",
                 "rule 'expr' is left-recursive");
  EXPECT_REFUSED("root ::= root \"a\" | \"a\"\n", "rule 'root' is left-recursive");
  // Indirect, and hidden behind a rule that can match nothing.
  EXPECT_REFUSED("root ::= a\na ::= b \"x\"\nb ::= a | \"y\"\n", "is left-recursive");
  EXPECT_REFUSED("root ::= e\ne ::= ws e \"x\" | \"y\"\nws ::= \" \"?\n", "rule 'e' is left-recursive");
  // Through a group.
  EXPECT_REFUSED("root ::= (root \"+\")? \"1\"\n", "rule 'root' is left-recursive");
  // A repetition of something that can be empty would expand forever.
  EXPECT_REFUSED("root ::= (\"a\"?)*\n", "repeats an item that can match nothing");
  // Right recursion and recursion after a character are fine.
  EXPECT_EQ(error_of("root ::= \"a\" root | \"b\"\n"), "");
  EXPECT_EQ(error_of("root ::= \"(\" root \")\" | \"x\"\n"), "");
}

TEST(GbnfGrammar, HostileGrammarsAreRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  std::string deep = "root ::= ";
  for (int i = 0; i < 1000; ++i) deep += '(';
  deep += "\"a\"";
  for (int i = 0; i < 1000; ++i) deep += ')';
  EXPECT_REFUSED(deep, "groups nest more than 64 deep");
  EXPECT_REFUSED("root ::= \"a\"{5000}\n", "repetition counts above 4096");
  EXPECT_REFUSED("root ::= \"a\"{1,99999999999999999999999}\n", "repetition counts above 4096");
  EXPECT_REFUSED("root ::= \"abcdefghijklmnopq\"{4000}\n", "more than 65536 elements");
  EXPECT_REFUSED("root ::= [a-z]{0,4096} [0-9]{0,4096} [a-z]{0,4096} [0-9]{0,4096} [a-z]{0,4096}\n",
                 "more than 16384 rules");
  EXPECT_REFUSED(std::string(GbnfGrammar::kMaxTextBytes + 1, ' '), "bytes; at most");
  // Nested repetitions stay small: each level repeats one reference.
  EXPECT_EQ(error_of("root ::= ((\"a\"{4096}){4096}){4096}\n"), "");
  // Exponentially ambiguous: each rule doubles the ways to derive "x".
  std::string doubling;
  for (int i = 0; i < 40; ++i) {
    doubling += fmt::format("{} ::= r{} | r{}\n", i == 0 ? "root" : fmt::format("r{}", i), i + 1, i + 1);
  }
  doubling += "r40 ::= \"x\"\n";
  auto g = GbnfGrammar::parse(doubling);
  GbnfRecognizer r(*g);
  EXPECT_TRUE(r.feed("x"));
  EXPECT_TRUE(r.done());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace ragd::engine
