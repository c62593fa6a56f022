// The Markdown parser (front matter, ATX/setext headings, fences) and the plain-text
// parser. Documented as never failing: no exception is expected at all.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "rag/ingest/text_parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ragd::fuzz::as_text(data, size);
  ragd::rag::Document doc = ragd::rag::parse_markdown(text, "fuzz");
  RAGD_FUZZ_CHECK(doc.metadata.is_object());
  (void)ragd::rag::parse_plain_text(text, "fuzz");
  return 0;
}
