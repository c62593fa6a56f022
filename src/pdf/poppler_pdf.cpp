#include "pdf/poppler_pdf.h"

#include <poppler-document.h>
#include <poppler-page.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "rag/ingest/section_builder.h"
#include "util/error.h"

namespace ragd::pdf {
namespace {

using rag::trim;

std::string utf8(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

rag::PdfText extract_with_poppler(std::string_view content, int max_pages, size_t max_text_bytes) {
  // Runs in parse_pdf's forked child, which must not log (a lock held by another thread at
  // fork time stays held), so poppler's error messages are swallowed.
  poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
  std::unique_ptr<poppler::document> pdf(poppler::document::load_from_raw_data(
      content.data(), static_cast<int>(std::min<size_t>(content.size(), INT32_MAX))));
  if (!pdf) fail("not a readable PDF (corrupt or truncated)");
  if (pdf->is_locked()) fail("the PDF is encrypted with a password");
  rag::PdfText out;
  out.pages = pdf->pages();
  if (out.pages > max_pages) fail("the PDF has {} pages; at most {} are read", out.pages, max_pages);
  out.title = std::string(trim(utf8(pdf->info_key("Title"))));
  size_t text_bytes = 0;
  for (int i = 0; i < out.pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;
    std::string text = utf8(page->text());
    for (char& c : text) {
      if (c == '\f') c = '\n';
    }
    const std::string_view body = trim(text);
    if (body.empty()) continue;
    text_bytes += body.size();
    if (text_bytes > max_text_bytes) fail("the PDF's text exceeds {} bytes", max_text_bytes);
    out.sections.push_back({fmt::format("Page {}", i + 1), std::string(body)});
  }
  return out;
}

void install_poppler_pdf() { rag::set_pdf_extractor(&extract_with_poppler); }

}  // namespace ragd::pdf
