// PDF text extraction with poppler-cpp (Debian libpoppler-cpp-dev): the only code that
// links poppler. install_poppler_pdf() makes rag's parse_pdf use it (rag/ingest/pdf_text.h).
#pragma once

#include <string_view>

#include "rag/ingest/pdf_text.h"

namespace ragd::pdf {

// Each page with text becomes a section "Page N" (so a chunk's heading says where in the
// file it came from); form feeds become line breaks; pages without text are dropped.
rag::PdfText extract_with_poppler(std::string_view content, int max_pages, size_t max_text_bytes);

void install_poppler_pdf();

}  // namespace ragd::pdf
