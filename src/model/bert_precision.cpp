#include "model/bert_precision.h"

#include "util/error.h"

namespace ragd::model {

std::string_view bert_precision_name(BertPrecision p) {
  return p == BertPrecision::Int8 ? "int8" : "f32";
}

BertPrecision bert_precision_from_name(std::string_view name) {
  if (name == "f32") return BertPrecision::F32;
  if (name == "int8") return BertPrecision::Int8;
  fail("unknown embedding precision '{}' (choose f32 or int8)", name);
}

}  // namespace ragd::model
