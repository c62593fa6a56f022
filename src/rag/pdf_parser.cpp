// PDF text extraction with poppler-cpp (Debian libpoppler-cpp-dev).
//
// Each page's text becomes one section headed "Page N" (so a chunk's heading says where in
// the file it came from); pages without text are dropped. The title is the document's
// Title info entry, else the fallback. A file poppler cannot open — corrupt, truncated,
// or encrypted with a password — is a ragd::Error naming the file, never a crash.
#include <poppler-document.h>
#include <poppler-page.h>

#include <memory>

#include "rag/section_builder.h"
#include "rag/text_parsers.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::rag {
namespace {

std::string utf8(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

// poppler writes its own diagnostics to stderr by default; route them to our log at debug
// level so a damaged file produces one clear error instead of a burst of parser noise.
void quiet_poppler() {
  static const bool once = [] {
    poppler::set_debug_error_function(
        [](const std::string& msg, void*) { log::debug("poppler: {}", msg); }, nullptr);
    return true;
  }();
  (void)once;
}

}  // namespace

Document parse_pdf(std::string_view content, std::string fallback_title) {
  quiet_poppler();
  std::unique_ptr<poppler::document> pdf(poppler::document::load_from_raw_data(
      content.data(), static_cast<int>(std::min<size_t>(content.size(), INT32_MAX))));
  if (!pdf) fail("not a readable PDF (corrupt or truncated)");
  if (pdf->is_locked()) fail("the PDF is encrypted with a password");
  Document doc;
  doc.title = std::string(trim(utf8(pdf->info_key("Title"))));
  if (doc.title.empty()) doc.title = std::move(fallback_title);
  const int pages = pdf->pages();
  doc.metadata["pages"] = pages;
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;
    std::string text = utf8(page->text());
    // Extraction keeps the page's line layout; form feeds separate text blocks.
    for (char& c : text) {
      if (c == '\f') c = '\n';
    }
    const std::string_view body = trim(text);
    if (!body.empty()) doc.sections.push_back(Section{fmt::format("Page {}", i + 1), std::string(body)});
  }
  return doc;
}

}  // namespace ragd::rag
