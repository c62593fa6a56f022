// The schema compiler (engine/json_schema.h) and the byte-level recognizer
// (engine/json_recognizer.h): which documents each schema accepts, which it refuses, and
// which schemas are refused with what message.
#include "engine/json_recognizer.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"

namespace ragd::engine {
namespace {

using json = nlohmann::ordered_json;

// Whole documents: every byte accepted and the document complete at the end.
bool accepts(const JsonSchemaGrammar& g, std::string_view text) {
  JsonRecognizer r(g);
  return r.feed(text) && r.complete();
}

bool accepts(const json& schema, std::string_view text) { return accepts(*JsonSchemaGrammar::compile(schema), text); }

std::string compile_error(const json& schema, bool strict = false) {
  try {
    JsonSchemaGrammar::compile(schema, strict);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonRecognizer, AnyObjectAcceptsJsonObjects) {
  auto g = JsonSchemaGrammar::any_object();
  for (const char* ok : {R"({})", R"({"a":1})", R"({"a": 1, "b": [1, 2.5, -3e10, 0.25E-2, true, false, null, "x"]})",
                         R"({"a":{"b":{"c":[[],{}]}}})", R"({"":""})", R"({"n":-0})"}) {
    EXPECT_TRUE(accepts(*g, ok)) << ok;
  }
  for (const char* bad : {R"([])", R"("x")", R"(1)", R"({"a":01})", R"({"a":1,})", R"({"a":1)", R"({'a':1})",
                          R"({"a":.5})", R"({"a":1.})", R"({"a":tru})", R"({"a":1} )", R"({"a":1}{})",
                          R"({"a":  1})", R"({"a":-})", R"({"a":1e})", R"({,})"}) {
    EXPECT_FALSE(accepts(*g, bad)) << bad;
  }
}

TEST(JsonRecognizer, StringsTakeEscapesAndUtf8ButNotControlBytesOrSurrogates) {
  auto g = JsonSchemaGrammar::any_object();
  EXPECT_TRUE(accepts(*g, "{\"s\":\"line\\n\\\"q\\\" \\/ \\u00e9 \\uFFFF \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}"));
  EXPECT_FALSE(accepts(*g, "{\"s\":\"a\nb\"}"));          // raw control character
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\\x41\"}"));        // not a JSON escape
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\\ud800\"}"));      // surrogate escape
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\\u12G4\"}"));
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\xC0\x80\"}"));     // overlong
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\xED\xA0\x80\"}")); // UTF-8 surrogate
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\x80\"}"));         // stray continuation
  EXPECT_FALSE(accepts(*g, "{\"s\":\"\xE2\x82\"}"));     // truncated sequence
}

TEST(JsonRecognizer, WhitespaceIsOneSpaceAfterColonAndCommaOnly) {
  auto g = JsonSchemaGrammar::any_object();
  EXPECT_TRUE(accepts(*g, R"({"a": 1, "b": [1, 2]})"));
  EXPECT_FALSE(accepts(*g, R"({ "a":1})"));
  EXPECT_FALSE(accepts(*g, "{\"a\":\n1}"));
  EXPECT_FALSE(accepts(*g, R"({"a" :1})"));
  EXPECT_FALSE(accepts(*g, R"({"a":1 })"));
}

TEST(JsonRecognizer, PrefixesAndCompletion) {
  auto g = JsonSchemaGrammar::any_object();
  JsonRecognizer r(*g);
  auto first = r.next_bytes();
  EXPECT_EQ(first.count(), 1u);
  EXPECT_TRUE(first['{']);
  EXPECT_TRUE(r.feed(R"({"a":[1)"));
  EXPECT_FALSE(r.complete());
  EXPECT_FALSE(r.feed("}"));      // refused, state unchanged
  EXPECT_TRUE(r.can_feed("]}"));
  EXPECT_TRUE(r.feed("]"));
  EXPECT_FALSE(r.done());
  EXPECT_TRUE(r.feed("}"));
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.done());
  EXPECT_TRUE(r.next_bytes().none());
}

TEST(JsonRecognizer, NumbersHaveBoundedDigits) {
  auto g = JsonSchemaGrammar::compile({{"type", "number"}});
  EXPECT_TRUE(accepts(*g, "123456789012345"));
  EXPECT_FALSE(accepts(*g, "1234567890123456"));
  EXPECT_FALSE(accepts(*g, "1e1234"));
  JsonRecognizer r(*g);
  ASSERT_TRUE(r.feed("12"));
  EXPECT_TRUE(r.complete());   // a top-level number may end here...
  EXPECT_FALSE(r.done());      // ...or go on
  ASSERT_TRUE(r.feed(".5e-123"));
  EXPECT_TRUE(r.done());       // exponent digits exhausted
  EXPECT_FALSE(accepts({{"type", "integer"}}, "1.5"));
  EXPECT_FALSE(accepts({{"type", "integer"}}, "1e3"));
  EXPECT_TRUE(accepts({{"type", "integer"}}, "-42"));
}

json person_schema() {
  return json::parse(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "maxLength": 5},
      "age": {"type": "integer"},
      "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1, "maxItems": 2},
      "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                  "required": ["city"], "additionalProperties": false},
      "active": {"type": "boolean"},
      "nothing": {"type": "null"}
    },
    "required": ["name", "age", "tags", "address"],
    "additionalProperties": false
  })");
}

TEST(JsonRecognizer, NestedSchemaWithRequiredEnumsAndBounds) {
  auto g = JsonSchemaGrammar::compile(person_schema(), true);
  for (const char* ok : {
           R"({"name":"Bob","age":42,"tags":["red"],"address":{"city":"Oslo"}})",
           R"({"name": "", "age": -1, "tags": ["red", "blue"], "address": {"city": "X", "zip": "0150"}, "active": true, "nothing": null})",
           R"({"name":"Bob","age":0,"tags":["green"],"address":{"city":"X"},"nothing":null})",
           R"({"name":"\u00e9\u00e9\u00e9\u00e9\u00e9","age":1,"tags":["red"],"address":{"city":""}})"}) {
    EXPECT_TRUE(accepts(*g, ok)) << ok;
  }
  for (const char* bad : {
           R"({"name":"Bob","tags":["red"],"address":{"city":"Oslo"}})",             // age missing
           R"({"age":42,"name":"Bob","tags":["red"],"address":{"city":"Oslo"}})",     // out of order
           R"({"name":"Bob","age":4.5,"tags":["red"],"address":{"city":"Oslo"}})",    // not an integer
           R"({"name":"Bob","age":42,"tags":[],"address":{"city":"Oslo"}})",          // minItems
           R"({"name":"Bob","age":42,"tags":["red","red","red"],"address":{"city":"Oslo"}})",  // maxItems
           R"({"name":"Bob","age":42,"tags":["pink"],"address":{"city":"Oslo"}})",    // not in enum
           R"({"name":"Bobbie","age":42,"tags":["red"],"address":{"city":"Oslo"}})",  // maxLength
           R"({"name":"Bob","age":42,"tags":["red"],"address":{}})",                  // city missing
           R"({"name":"Bob","age":42,"tags":["red"],"address":{"city":"Oslo"},"x":1})",  // extra key
           R"({"name":"Bob","age":42,"tags":["red"],"address":{"city":"Oslo"},"active":"yes"})",
           R"({"name":"Bob","age":"42","tags":["red"],"address":{"city":"Oslo"}})"}) {
    EXPECT_FALSE(accepts(*g, bad)) << bad;
  }
}

TEST(JsonRecognizer, OptionalPropertiesMayBeSkippedButNotReordered) {
  json s = json::parse(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},
                           "c":{"type":"integer"}},"required":["b"]})");
  EXPECT_TRUE(accepts(s, R"({"b":1})"));
  EXPECT_TRUE(accepts(s, R"({"a":1,"b":2,"c":3})"));
  EXPECT_TRUE(accepts(s, R"({"b":2,"c":3})"));
  EXPECT_FALSE(accepts(s, R"({"a":1})"));
  EXPECT_FALSE(accepts(s, R"({"c":1,"b":2})"));
  EXPECT_FALSE(accepts(s, R"({})"));
  json none_required = json::parse(R"({"properties":{"a":{"type":"string"}}})");
  EXPECT_TRUE(accepts(none_required, R"({})"));
  EXPECT_TRUE(accepts(none_required, R"({"a":"x"})"));
}

TEST(JsonRecognizer, AnyOfConstTypeListsAndRefs) {
  json s = json::parse(R"({
    "$defs": {"Color": {"enum": ["red", 7, null, true]}, "Point": {"type": "object",
              "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}},
    "type": "object",
    "properties": {
      "v": {"anyOf": [{"type": "integer"}, {"type": "null"}, {"type": "string", "maxLength": 2}]},
      "k": {"const": "fixed"},
      "t": {"type": ["string", "null"]},
      "c": {"$ref": "#/$defs/Color"},
      "p": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "array", "items": {"$ref": "#/$defs/Point"}}]}
    },
    "required": ["v", "k", "t", "c", "p"]
  })");
  auto g = JsonSchemaGrammar::compile(s);
  EXPECT_TRUE(accepts(*g, R"({"v":5,"k":"fixed","t":null,"c":"red","p":{"x":1,"y":2.5}})"));
  EXPECT_TRUE(accepts(*g, R"({"v":null,"k":"fixed","t":"s","c":7,"p":[{"x":1,"y":2}]})"));
  EXPECT_TRUE(accepts(*g, R"({"v":"ab","k":"fixed","t":"","c":null,"p":[]})"));
  EXPECT_TRUE(accepts(*g, R"({"v":1,"k":"fixed","t":"","c":true,"p":[]})"));
  EXPECT_FALSE(accepts(*g, R"({"v":"abc","k":"fixed","t":"","c":null,"p":[]})"));
  EXPECT_FALSE(accepts(*g, R"({"v":1.5,"k":"fixed","t":"","c":null,"p":[]})"));
  EXPECT_FALSE(accepts(*g, R"({"v":1,"k":"fixes","t":"","c":null,"p":[]})"));
  EXPECT_FALSE(accepts(*g, R"({"v":1,"k":"fixed","t":1,"c":null,"p":[]})"));
  EXPECT_FALSE(accepts(*g, R"({"v":1,"k":"fixed","t":"","c":8,"p":[]})"));
  EXPECT_FALSE(accepts(*g, R"({"v":1,"k":"fixed","t":"","c":7,"p":{"x":1}})"));
}

TEST(JsonRecognizer, FreeFormObjectsAndAdditionalPropertiesSchemas) {
  json ints = json::parse(R"({"type":"object","additionalProperties":{"type":"integer"}})");
  EXPECT_TRUE(accepts(ints, R"({"x":1, "y":-2})"));
  EXPECT_FALSE(accepts(ints, R"({"x":"s"})"));
  json closed = json::parse(R"({"type":"object","additionalProperties":false})");
  EXPECT_TRUE(accepts(closed, "{}"));
  EXPECT_FALSE(accepts(closed, R"({"x":1})"));
  EXPECT_TRUE(accepts(json::object(), R"(["any", {"thing": 1}])"));
  EXPECT_TRUE(accepts(true, "null"));
}

TEST(JsonRecognizer, RuntimeNestingIsBounded) {
  auto g = JsonSchemaGrammar::compile(json::object());  // any value
  JsonRecognizer r(*g);
  size_t opened = 0;
  while (opened < 1000 && r.feed("[")) ++opened;
  EXPECT_LT(opened, JsonRecognizer::kMaxStack + 1);
  EXPECT_TRUE(r.feed("1"));  // a scalar still fits, so the document can be finished
  for (size_t i = 0; i < opened; ++i) ASSERT_TRUE(r.feed("]"));
  EXPECT_TRUE(r.done());
}

TEST(JsonSchemaGrammar, RefusesUnsupportedKeywordsByName) {
  EXPECT_NE(compile_error({{"type", "object"}, {"patternProperties", json::object()}}).find("'patternProperties' is not supported"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "string"}, {"format", "date-time"}}).find("'format' is not supported"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "string"}, {"pattern", "^a$"}}).find("'pattern' is not supported"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "integer"}, {"minimum", 0}}).find("'minimum' is not supported"), std::string::npos);
  EXPECT_NE(compile_error({{"oneOf", json::array({json::object()})}}).find("'oneOf' is not supported"), std::string::npos);
  EXPECT_NE(compile_error(json::parse(R"({"properties":{"a":{"type":"object","properties":{"b":{"not":{}}}}}})"))
                .find("'not' is not supported (at the schema root.a.b)"),
            std::string::npos);
}

TEST(JsonSchemaGrammar, RefusesInvalidAndHostileSchemas) {
  EXPECT_NE(compile_error({{"type", "thing"}}).find("unknown 'type'"), std::string::npos);
  EXPECT_NE(compile_error({{"enum", json::array()}}).find("non-empty"), std::string::npos);
  EXPECT_NE(compile_error({{"enum", json::array({json::object()})}}).find("must be strings, numbers"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "string"}, {"enum", json::array({1})}}).find("does not have the schema's 'type'"), std::string::npos);
  EXPECT_NE(compile_error({{"anyOf", json::array()}}).find("non-empty"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "array"}, {"minItems", 3}, {"maxItems", 2}}).find("exceeds"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "array"}, {"minItems", 100000}}).find("at most"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "object"}, {"properties", {{"a", {{"type", "string"}}}}}, {"required", json::array({"b"})}})
                .find("required property \"b\""),
            std::string::npos);
  EXPECT_NE(compile_error(false).find("matches nothing"), std::string::npos);
  EXPECT_NE(compile_error({{"type", "object"}, {"additionalProperties", true}}, true).find("strict mode"), std::string::npos);

  json big_enum = json::array();
  for (int i = 0; i < 100000; ++i) big_enum.push_back(i);
  EXPECT_NE(compile_error({{"enum", big_enum}}).find("at most 512"), std::string::npos);

  json deep = {{"type", "string"}};
  for (int i = 0; i < 200; ++i) deep = {{"type", "object"}, {"properties", {{"x", deep}}}, {"required", json::array({"x"})}};
  EXPECT_NE(compile_error(deep).find("deeper than"), std::string::npos);

  json recursive = json::parse(R"({"$defs":{"Node":{"type":"object","properties":{"next":{"$ref":"#/$defs/Node"}}}},
                                   "$ref":"#/$defs/Node"})");
  EXPECT_NE(compile_error(recursive).find("recursive '$ref'"), std::string::npos);
  EXPECT_NE(compile_error({{"$ref", "#/$defs/Missing"}}).find("does not name"), std::string::npos);
  EXPECT_NE(compile_error({{"$ref", "#"}}).find("recursive"), std::string::npos);

  // Many small schemas behind references are fine; too many parts are not.
  json wide = {{"type", "object"}, {"properties", json::object()}};
  for (int i = 0; i < 5000; ++i) wide["properties"][std::to_string(i)] = {{"type", "integer"}};
  EXPECT_NE(compile_error(wide).find("too large"), std::string::npos);
}

}  // namespace
}  // namespace ragd::engine
