#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "rag/document_reader.h"
#include "rag/temp_dir.h"
#include "rag/text_parsers.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// A minimal valid PDF: one page per entry of `pages`, each showing its text in the base-14
// Helvetica font, with a correct cross-reference table (offsets computed as written).
std::string make_pdf(const std::vector<std::string>& pages, const std::string& title) {
  std::vector<std::string> objects;
  const size_t n = pages.size();
  // 1: catalog, 2: page tree, 3: font, 4: info, then (page, content) pairs.
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  std::string kids;
  for (size_t i = 0; i < n; ++i) kids += std::to_string(5 + 2 * i) + " 0 R ";
  objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
  objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  objects.push_back("<< /Title (" + title + ") >>");
  for (size_t i = 0; i < n; ++i) {
    const std::string stream = "BT /F1 12 Tf 72 720 Td (" + pages[i] + ") Tj ET";
    objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents " +
                      std::to_string(6 + 2 * i) + " 0 R >>");
    objects.push_back("<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream +
                      "\nendstream");
  }
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R /Info 4 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST(Pdf, EachPageBecomesASectionAndTheInfoTitleIsTheTitle) {
  const auto doc = parse_pdf(make_pdf({"Hello from page one.", "Second page text."}, "A Study"),
                             "fallback");
  EXPECT_EQ(doc.title, "A Study");
  ASSERT_EQ(doc.sections.size(), 2u);
  EXPECT_EQ(doc.sections[0].heading, "Page 1");
  EXPECT_EQ(doc.sections[0].text, "Hello from page one.");
  EXPECT_EQ(doc.sections[1].heading, "Page 2");
  EXPECT_EQ(doc.sections[1].text, "Second page text.");
  EXPECT_EQ(doc.metadata["pages"], 2);
}

TEST(Pdf, NoTitleUsesTheFallback) {
  const auto doc = parse_pdf(make_pdf({"Body."}, ""), "report");
  EXPECT_EQ(doc.title, "report");
}

TEST(Pdf, CorruptAndTruncatedFilesAreClearErrors) {
  const std::string good = make_pdf({"Some text here."}, "T");
  EXPECT_THROW(parse_pdf("", "x"), Error);
  EXPECT_THROW(parse_pdf("not a pdf at all", "x"), Error);
  // Every truncation either still parses (poppler repairs the cross-reference table) or
  // is an Error; none may crash.
  for (size_t len = 0; len < good.size(); len += 7) {
    try {
      parse_pdf(std::string_view(good).substr(0, len), "x");
    } catch (const Error&) {
    }
  }
  std::string flipped = good;
  for (size_t i = 9; i < flipped.size(); i += 13) flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
  try {
    parse_pdf(flipped, "x");
  } catch (const Error&) {
  }
}

TEST(Pdf, ReaderNamesTheFileInErrors) {
  TempDir dir;
  const auto good = dir.path() / "paper.pdf";
  std::ofstream(good, std::ios::binary) << make_pdf({"Reader text."}, "Paper");
  ASSERT_EQ(file_kind(good), FileKind::Pdf);
  auto doc = open_document_reader(good, FileKind::Pdf)->next();
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->title, "Paper");
  EXPECT_EQ(doc->metadata["type"], "pdf");

  const auto bad = dir.path() / "broken.pdf";
  std::ofstream(bad, std::ios::binary) << "%PDF-1.4 garbage";
  try {
    open_document_reader(bad, FileKind::Pdf)->next();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.pdf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ragd::rag
