// JsonRecognizer: decides, byte by byte, whether a text is a prefix of a JSON document that
// a JsonSchemaGrammar (engine/json_schema.h) accepts. Constrained decoding asks it which
// tokens may come next (JsonConstraint, engine/json_constraint.h).
//
// The state is a set of pushdown stacks, one per live interpretation: anyOf, enum values
// and the candidate keys of an object fork a stack each, and a byte that a stack cannot take
// drops it. Invariant: every live stack can still be completed to a valid document (the
// compiler refuses schemas with empty choices or minimum > maximum), so generation never
// corners itself as long as one stack lives.
//
// The generated form is deliberately narrow so a model cannot loop on filler: no whitespace
// except at most one space after ':' and ','; numbers with at most 15 integer digits, 15
// fraction digits and 3 exponent digits; strings as valid UTF-8 with JSON escapes (\u
// escapes of surrogates are refused, since lone ones are not portable); nothing after the
// top-level value. Containers nest at most kMaxStack frames deep.
#pragma once

#include <bitset>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/json_schema.h"

namespace ragd::engine {

class JsonRecognizer {
 public:
  // The grammar must outlive the recognizer.
  explicit JsonRecognizer(const JsonSchemaGrammar& grammar);

  // Consumes `bytes` if the text stays a valid prefix; otherwise returns false and leaves
  // the state as it was.
  bool feed(std::string_view bytes);
  // Whether feed(bytes) would succeed, without changing the state.
  bool can_feed(std::string_view bytes);
  // The bytes so far form one whole valid document.
  bool complete() const;
  // complete() and no byte may follow (a top-level object or array has ended).
  bool done();
  // Bytes that may come next (bit c set: the byte c).
  std::bitset<256> next_bytes();

  // How errors of a constraint built on this recognizer name its output.
  static constexpr const char* kOutputName = "the JSON output";

  static constexpr size_t kMaxStack = 64;
  static constexpr size_t kMaxStacks = 1024;

 private:
  enum class Kind : uint8_t { Value, Literal, Key, String, Number, Object, Array };
  struct Frame {
    const JsonNode* node;
    Kind kind;
    uint8_t state;
    uint32_t a;  // Literal/Key: index of the literal or property; String/Array: count;
                 // Object: properties consumed
    uint32_t b;  // Literal/Key: bytes matched; Number: digits in the current part;
                 // String: continuation bytes still due
    bool operator==(const Frame&) const = default;
  };
  using Stack = std::vector<Frame>;

  bool run(std::string_view bytes, std::vector<Stack>& into);
  void step(Stack s, uint8_t c, std::vector<Stack>& out) const;
  void dispatch_value(Stack& s, uint8_t c, std::vector<Stack>& out) const;
  void step_object(Stack& s, uint8_t c, std::vector<Stack>& out) const;
  int step_array(Stack& s, uint8_t c) const;  // 1 took c, 0 first item takes c, -1 invalid
  static bool step_string(Frame& f, uint8_t c, bool& closed);
  static int step_number(Frame& f, uint8_t c);  // 1 took c, 0 number ended before c, -1 invalid
  static bool number_can_end(const Frame& f);

  std::vector<Stack> stacks_;
  std::vector<Stack> scratch_a_, scratch_b_;
};

}  // namespace ragd::engine
