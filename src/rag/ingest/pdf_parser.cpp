// PDF documents: the installed extractor (pdf_text.h; poppler in ragd) runs in a bounded
// child process (bounded_child.h), and its result comes back length-prefixed.
//
// A decompression bomb (a small file whose streams inflate to gigabytes) once took the
// server from 18 MiB to 3 GiB, kept. In the child it hits its memory, CPU or wall-clock
// limit instead, the caller gets an error, and nothing the extractor allocated stays in
// this process. A file the extractor cannot open (corrupt, truncated, or encrypted with a
// password) is a ragd::Error, never a crash.
#include <cstring>

#include "rag/ingest/bounded_child.h"
#include "rag/ingest/pdf_text.h"
#include "rag/ingest/text_parsers.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// Written before threads start (set_pdf_extractor's contract), read after.
PdfExtractor g_extractor = nullptr;

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

// Runs in the bounded child: title, page count, then (heading, text) pairs.
std::string extract(PdfExtractor extractor, std::string_view content, const PdfLimits& limits) {
  const PdfText text = extractor(content, limits.max_pages, limits.child.max_output_bytes);
  std::string out;
  put(out, text.title);
  put(out, std::to_string(text.pages));
  for (const auto& s : text.sections) {
    put(out, s.heading);
    put(out, s.text);
    if (out.size() > limits.child.max_output_bytes) {
      fail("the PDF's text exceeds {}", size_text(limits.child.max_output_bytes));
    }
  }
  return out;
}

}  // namespace

void set_pdf_extractor(PdfExtractor extractor) { g_extractor = extractor; }
PdfExtractor pdf_extractor() { return g_extractor; }

Document parse_pdf(std::string_view content, std::string fallback_title, const PdfLimits& limits) {
  const PdfExtractor extractor = g_extractor;
  if (!extractor) fail("this program cannot read PDF files (it was built without a PDF extractor)");
  const ChildResult r = run_bounded_child([&] { return extract(extractor, content, limits); }, limits.child);
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
