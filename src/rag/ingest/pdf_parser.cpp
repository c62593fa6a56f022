// PDF text extraction with poppler-cpp (Debian libpoppler-cpp-dev).
//
// Each page's text becomes one section headed "Page N" (so a chunk's heading says where in
// the file it came from); pages without text are dropped. The title is the document's
// Title info entry, else the fallback. A file poppler cannot open — corrupt, truncated,
// or encrypted with a password — is a ragd::Error naming the file, never a crash.
//
// poppler runs in a bounded child process (bounded_child.h): a decompression bomb (a small
// file whose streams inflate to gigabytes) once took the server from 18 MiB to 3 GiB, kept.
// Now the child hits its memory, CPU or wall-clock limit and the caller gets an error, and
// nothing poppler allocated stays in this process.
#include <poppler-document.h>
#include <poppler-page.h>

#include <cstring>
#include <memory>

#include "rag/ingest/bounded_child.h"
#include "rag/ingest/section_builder.h"
#include "rag/ingest/text_parsers.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

std::string utf8(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

std::string size_text(size_t bytes) {
  return bytes >= (1u << 20) ? fmt::format("{} MiB", bytes >> 20) : fmt::format("{} bytes", bytes);
}

void put(std::string& out, std::string_view s) {
  const uint64_t n = s.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(s);
}

std::string_view take(std::string_view& in) {
  uint64_t n = 0;
  if (in.size() < sizeof n) fail("internal error: short PDF parser output");
  std::memcpy(&n, in.data(), sizeof n);
  in.remove_prefix(sizeof n);
  if (in.size() < n) fail("internal error: short PDF parser output");
  const std::string_view s = in.substr(0, n);
  in.remove_prefix(n);
  return s;
}

// Runs in the bounded child: poppler's work, encoded as title, page count, then
// (heading, text) pairs, each length-prefixed.
std::string extract(std::string_view content, const PdfLimits& limits) {
  // The child must not log (a lock held by another thread at fork time stays held).
  poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
  std::unique_ptr<poppler::document> pdf(poppler::document::load_from_raw_data(
      content.data(), static_cast<int>(std::min<size_t>(content.size(), INT32_MAX))));
  if (!pdf) fail("not a readable PDF (corrupt or truncated)");
  if (pdf->is_locked()) fail("the PDF is encrypted with a password");
  const int pages = pdf->pages();
  if (pages > limits.max_pages) fail("the PDF has {} pages; at most {} are read", pages, limits.max_pages);
  std::string out;
  put(out, trim(utf8(pdf->info_key("Title"))));
  put(out, std::to_string(pages));
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;
    std::string text = utf8(page->text());
    // Extraction keeps the page's line layout; form feeds separate text blocks.
    for (char& c : text) {
      if (c == '\f') c = '\n';
    }
    const std::string_view body = trim(text);
    if (body.empty()) continue;
    put(out, fmt::format("Page {}", i + 1));
    put(out, body);
    if (out.size() > limits.child.max_output_bytes) {
      fail("the PDF's text exceeds {}", size_text(limits.child.max_output_bytes));
    }
  }
  return out;
}

}  // namespace

Document parse_pdf(std::string_view content, std::string fallback_title, const PdfLimits& limits) {
  const ChildResult r = run_bounded_child([&] { return extract(content, limits); }, limits.child);
  switch (r.outcome) {
    case ChildOutcome::Ok: break;
    case ChildOutcome::Failed: fail("{}", r.output);
    case ChildOutcome::OutputTooBig:
      fail("the PDF's text exceeds {}", size_text(limits.child.max_output_bytes));
    case ChildOutcome::OutOfLimits:
      fail("the PDF could not be parsed within {} MiB of memory and {} s", limits.child.memory_mib,
           std::min(limits.child.cpu_seconds, limits.child.wall_seconds));
  }
  std::string_view in = r.output;
  Document doc;
  doc.title = std::string(take(in));
  if (doc.title.empty()) doc.title = std::move(fallback_title);
  doc.metadata["pages"] = std::stoi(std::string(take(in)));
  while (!in.empty()) {
    std::string heading(take(in));
    doc.sections.push_back(Section{std::move(heading), std::string(take(in))});
  }
  return doc;
}

}  // namespace ragd::rag
