// The chat-template renderer (model/chat_template.h): template detection from arbitrary
// Jinja-ish text, and rendering of arbitrary roles and contents with every family. The
// input is split at 0x01 bytes: template text, then role, content, role, content, ...
// Documented as never failing. Property: apply() is the concatenation of render()'s segments.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "model/chat_template.h"

using namespace ragd::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = ragd::fuzz::split_fields(ragd::fuzz::as_text(data, size), '\x01');
  std::vector<ChatMessage> messages;
  for (size_t i = 1; i + 1 < fields.size(); i += 2) {
    messages.push_back({std::string(fields[i]), std::string(fields[i + 1])});
  }
  const bool generation_prompt = size % 2 == 1;
  ChatTemplate fuzzed(fields[0]);
  // apply() is the concatenation of render()'s segments (the tokenized form).
  std::string joined;
  for (const ChatSegment& seg : fuzzed.render(messages, generation_prompt)) joined += seg.text;
  RAGD_FUZZ_CHECK(joined == fuzzed.apply(messages, generation_prompt));
  for (const char* family : {"chatml", "llama3", "llama2", "mistral", "mistral-v3", "phi3", "gemma"}) {
    ChatTemplate t(family);
    RAGD_FUZZ_CHECK(t.kind() == detect_chat_template(family));
    (void)t.apply(messages, generation_prompt);
  }
  return 0;
}
