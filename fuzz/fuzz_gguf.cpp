// GGUF reader: header, metadata (every value type, nested arrays), tensor table, offsets and
// alignment, then what loaders read from it: typed getters, the tokenizer and the llama/BERT
// configs. Invariants checked: every tensor's data lies inside the input (gguf.h).
#include <cstdint>
#include <span>

#include "fuzz/fuzz_util.h"
#include "model/bert_config.h"
#include "model/gguf.h"
#include "model/llama_config.h"
#include "model/tokenizer.h"
#include "util/error.h"

namespace {

using namespace ragd::model;

void touch_metadata(const GgufFile& f) {
  for (const auto& [key, value] : f.metadata()) {
    try {
      if (std::holds_alternative<std::string_view>(value)) (void)f.get_string(key);
      else if (std::holds_alternative<std::shared_ptr<const GgufArray>>(value)) {
        const GgufArray& a = f.get_array(key);
        if (a.elem_type != GgufType::STRING && a.elem_type != GgufType::ARRAY) (void)a.as<double>();
      } else {
        (void)f.get_float(key);
      }
    } catch (const ragd::Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  } catch (const ragd::Error&) {
    return 0;
  }
  for (const GgufTensor& t : f->tensors()) {
    RAGD_FUZZ_CHECK(t.data >= data && t.n_bytes <= size &&
                    static_cast<size_t>(t.data - data) <= size - t.n_bytes);
    RAGD_FUZZ_CHECK(f->find_tensor(t.name) != nullptr);
  }
  touch_metadata(*f);
  try {
    auto tok = Tokenizer::from_gguf(*f);
    auto ids = tok->encode("Hello wörld <s> 123 \xff", true, true);
    (void)tok->decode(ids, true);
  } catch (const ragd::Error&) {
  }
  try {
    (void)LlamaConfig::from_gguf(*f);
  } catch (const ragd::Error&) {
  }
  try {
    (void)BertConfig::from_gguf(*f);
  } catch (const ragd::Error&) {
  }
  return 0;
}
