// The PDF text extractor that parse_pdf (text_parsers.h) runs in its bounded child.
//
// The extractor is installed at run time rather than linked into the rag library, so that
// poppler is a dependency of the programs that read PDFs (ragd installs src/pdf's poppler
// extractor at start; the PDF tests and the fuzz target do too), not of every user of
// rag. Without an installed extractor a .pdf file is a ragd::Error saying so.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::rag {

struct PdfSection {
  std::string heading, text;
};

struct PdfText {
  std::string title;   // the Title info entry, "" if none
  int pages = 0;       // page count of the file
  std::vector<PdfSection> sections;
};

// Throws ragd::Error for files it cannot read and when the file has more than max_pages
// pages or its text more than max_text_bytes.
using PdfExtractor = PdfText (*)(std::string_view content, int max_pages, size_t max_text_bytes);

// Called once at start, before threads; later calls replace it.
void set_pdf_extractor(PdfExtractor extractor);
PdfExtractor pdf_extractor();  // nullptr when none is installed

}  // namespace ragd::rag
