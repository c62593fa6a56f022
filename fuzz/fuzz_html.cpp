// The HTML parser (rag/text_parsers.h) and character-reference decoding. Documented as
// never failing: any bytes give a Document, so no exception is expected at all.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "rag/ingest/text_parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ragd::fuzz::as_text(data, size);
  ragd::rag::Document doc = ragd::rag::parse_html(text, "fuzz");
  RAGD_FUZZ_CHECK(!doc.title.empty());
  (void)ragd::rag::decode_html_entities(text);
  return 0;
}
