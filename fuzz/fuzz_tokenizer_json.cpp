// The BERT converter's vocabulary reader (model/hf_bert_vocab.h): tokenizer.json, or
// vocab.txt + tokenizer_config.json, plus special_tokens_map.json. The input is split at
// 0x01 bytes into up to three files: tokenizer.json (or vocab.txt when the first byte is
// 'v'), special_tokens_map.json and tokenizer_config.json; they are written to a scratch
// directory because the reader takes a checkpoint directory.
#include <cstdint>
#include <filesystem>

#include "fuzz/fuzz_util.h"
#include "model/hf_bert_vocab.h"
#include "util/error.h"

using namespace ragd::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ScratchDir dir;
  std::string_view text = as_text(data, size);
  const bool vocab_txt = !text.empty() && text[0] == 'v';
  if (vocab_txt) text.remove_prefix(1);
  auto fields = split_fields(text, '\x01');
  std::error_code ec;
  for (const char* name : {"tokenizer.json", "vocab.txt", "special_tokens_map.json",
                           "tokenizer_config.json"}) {
    std::filesystem::remove(dir.path() / name, ec);
  }
  dir.write(vocab_txt ? "vocab.txt" : "tokenizer.json", fields[0]);
  if (fields.size() > 1) dir.write("special_tokens_map.json", fields[1]);
  if (fields.size() > 2) dir.write("tokenizer_config.json", fields[2]);
  try {
    ragd::model::HfBertVocab v = ragd::model::read_hf_bert_vocab(dir.path().string(), size % 64);
    RAGD_FUZZ_CHECK(v.tokens.size() == v.token_types.size());
    for (const std::string& t : v.tokens) (void)ragd::model::gguf_wordpiece_token(t);
  } catch (const ragd::Error&) {
  }
  return 0;
}
