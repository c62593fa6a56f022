// PDF text extraction (src/pdf's poppler extractor, as rag's parse_pdf runs it) on untrusted
// bytes: a corrupt, truncated or encrypted file throws ragd::Error, anything else gives
// pages, sections "Page N" in page order and no more text than the limit.
//
// The extractor runs here in-process, not through parse_pdf's forked child
// (rag/ingest/bounded_child.h): coverage counters a child updates never reach libFuzzer,
// and a fork per input held the campaign at ~50 executions/s. What the child adds — memory,
// CPU and wall-clock limits, crashes and bombs turned into errors — is what the PDF parser
// tests check (tests/rag/pdf_parser_test.cpp). poppler is not built with coverage, so
// libFuzzer is guided only by ragd's side; findings inside poppler are poppler's to fix.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "pdf/poppler_pdf.h"
#include "rag/ingest/text_parsers.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ragd::rag::PdfLimits limits;
  try {
    const ragd::rag::PdfText text = ragd::pdf::extract_with_poppler(
        ragd::fuzz::as_text(data, size), limits.max_pages, limits.child.max_output_bytes);
    RAGD_FUZZ_CHECK(text.pages >= 0 && text.pages <= limits.max_pages);
    RAGD_FUZZ_CHECK(text.sections.size() <= static_cast<size_t>(text.pages));
    size_t bytes = 0;
    int last_page = 0;
    for (const auto& s : text.sections) {
      RAGD_FUZZ_CHECK(s.heading.rfind("Page ", 0) == 0 && !s.text.empty());
      const int page = std::stoi(s.heading.substr(5));
      RAGD_FUZZ_CHECK(page > last_page && page <= text.pages);
      last_page = page;
      bytes += s.text.size();
    }
    RAGD_FUZZ_CHECK(bytes <= limits.child.max_output_bytes);
  } catch (const ragd::Error&) {
  }
  return 0;
}
