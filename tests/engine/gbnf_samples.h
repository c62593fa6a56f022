// Grammars in the style of llama.cpp's grammars/*.gbnf samples (written for these tests),
// each with texts it must accept whole and texts it must refuse, shared by the parser and
// recognizer tests.
#pragma once

#include <string>
#include <vector>

namespace ragd::engine {

struct GbnfSample {
  const char* name;
  std::string text;
  std::vector<std::string> accepted;
  std::vector<std::string> rejected;  // not a whole sentence (some are valid prefixes)
};

inline const std::vector<GbnfSample>& gbnf_samples() {
  static const std::vector<GbnfSample> all = {
      {"yes_no", "root ::= (\"yes\" | \"no\")\n", {"yes", "no"}, {"", "ye", "yes ", "No", "maybe"}},
      {"arithmetic",
       R"gbnf(root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
)gbnf",
       {"1+2=3\n", "x *(y+1) = 10\nz=0\n", "(a)=b\n"},
       {"1+2=3", "=3\n", "1++2=3\n", "X=1\n"}},
      {"list",
       R"gbnf(root ::= item+
# Excludes various line break characters
item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
)gbnf",
       {"- milk\n", "- eggs\n- café au lait\n"},
       {"- \n", "milk\n", "- milk"}},
      {"json",
       R"gbnf(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
)gbnf",
       {R"({})", R"({"a": 1})", R"({"name": "Ada", "tags": ["x", "y\n\u00e9"], "ok": true, "n": -1.5e3, "z": null})",
        "{\n  \"nested\": {\"deep\": [[], {}]}\n}"},
       {R"({"a" 1})", R"([1, 2])", R"({"a": 01})", R"({"a": "tab	"})", R"({"a": tru})"}},
      {"chess",
       R"gbnf(root    ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")+
move    ::= (pawn | nonpawn | castle) [+#]?
pawn    ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
castle  ::= "O-O" "-O"?
)gbnf",
       {"1. e4 e5\n2. Nf3 Nc6\n", "1. d4 d5\n2. c4 dxc4\n3. O-O-O Qxd8#\n"},
       {"1. e4 e5\n", "1. e9 e5\n2. a3 a6\n", "1. e4 e5\n2. Zf3 Nc6\n"}},
      {"number_list", "root ::= \"[\" [0-9]{1,3} (\", \" [0-9]{1,3}){0,9} \"]\"\n",
       {"[1]", "[12, 345, 6]"},
       {"[]", "[1234]", "[1,2]", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]"}},
      {"any_char", "root ::= . . \"!\"\n", {"ab!", "é€!", "\xF0\x9F\x98\x80x!"}, {"a!", "abc!"}},
  };
  return all;
}

}  // namespace ragd::engine
