// The PDF parser (rag/ingest/pdf_parser.cpp) with the poppler extractor (src/pdf): a corrupt, truncated or encrypted
// file throws ragd::Error, anything else gives a Document. poppler itself is not built
// with coverage instrumentation, so libFuzzer is guided only by ragd's side; findings inside
// poppler are reported but are poppler's to fix.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "pdf/poppler_pdf.h"
#include "rag/ingest/text_parsers.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool installed = (ragd::pdf::install_poppler_pdf(), true);
  (void)installed;
  try {
    ragd::rag::Document doc = ragd::rag::parse_pdf(ragd::fuzz::as_text(data, size), "fuzz");
    RAGD_FUZZ_CHECK(!doc.title.empty());
  } catch (const ragd::Error&) {
  }
  return 0;
}
