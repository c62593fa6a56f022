#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "pdf/poppler_pdf.h"
#include "rag/ingest/document_reader.h"
#include "rag/ingest/temp_dir.h"
#include "rag/ingest/pdf_text.h"
#include "rag/ingest/text_parsers.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// These tests read PDFs as ragd does: with the poppler extractor installed.
const bool kPopplerInstalled = (pdf::install_poppler_pdf(), true);

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

// Bits of a DEFLATE stream, least significant first (RFC 1951 3.1.1).
class BitWriter {
 public:
  void bits(uint32_t value, int n) {  // an integer, LSB first
    for (int i = 0; i < n; ++i) bit((value >> i) & 1);
  }
  void code(uint32_t code, int n) {  // a Huffman code, MSB first
    for (int i = n - 1; i >= 0; --i) bit((code >> i) & 1);
  }
  std::string finish() {
    if (fill_) out_.push_back(static_cast<char>(cur_));
    return std::move(out_);
  }

 private:
  void bit(uint32_t b) {
    cur_ |= b << fill_;
    if (++fill_ == 8) {
      out_.push_back(static_cast<char>(cur_));
      cur_ = fill_ = 0;
    }
  }
  std::string out_;
  uint32_t cur_ = 0;
  int fill_ = 0;
};

// zlib data (FlateDecode) that inflates to `period` repeated `copies` times: the period as
// literals, then length-258 matches at distance period.size(), with the fixed Huffman codes.
// ~115:1 for a 64-byte period, so a bomb of hundreds of MB fits in a few MB.
std::string zlib_repeat(const std::string& period, size_t copies) {
  BitWriter w;
  w.bits(1, 1);  // BFINAL
  w.bits(1, 2);  // fixed Huffman
  for (unsigned char c : period) {
    if (c < 144) w.code(0x30 + c, 8);
    else w.code(0x190 + c - 144, 9);
  }
  // Distance code for d = period.size() (RFC 1951 3.2.5).
  const uint32_t d = static_cast<uint32_t>(period.size());
  uint32_t dcode = 0, base = 1, extra = 0;
  for (uint32_t c = 0; c < 30; ++c) {
    const uint32_t e = c < 4 ? 0 : c / 2 - 1;
    if (d < base + (1u << e)) {
      dcode = c;
      extra = e;
      break;
    }
    base += 1u << e;
  }
  const size_t total = period.size() * copies;
  for (size_t done = period.size(); done + 258 <= total; done += 258) {
    w.code(0xC5, 8);  // length code 285 = 258 bytes
    w.code(dcode, 5);
    w.bits(d - base, static_cast<int>(extra));
  }
  w.code(0, 7);  // end of block (the last < 258 bytes are simply left out)
  std::string z = "\x78\x01" + w.finish();
  z += std::string(4, '\0');  // Adler-32; poppler does not check it
  return z;
}

// A one-page PDF whose content stream inflates to `inflated` bytes of text-showing operators.
std::string make_bomb_pdf(size_t inflated) {
  std::string op = "(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) Tj\n";
  const std::string head = "BT /F1 12 Tf 72 720 Td ";
  std::string stream = zlib_repeat(op, inflated / op.size());
  // The head is a separate, uncompressed content stream in front of the bomb.
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> "
      ">> /Contents [5 0 R 6 0 R] >>",
      "<< /Length " + std::to_string(head.size()) + " >>\nstream\n" + head + "\nendstream",
      "<< /Length " + std::to_string(stream.size()) + " /Filter /FlateDecode >>\nstream\n" +
          stream + "\nendstream"};
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
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
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

// A decompression bomb (a few MB inflating to 1 GB of text operators) fails cleanly within
// the limits (here the CPU/wall-clock ones: poppler would grind through it for minutes), and
// this process's memory does not grow: poppler ran in a child.
TEST(Pdf, DecompressionBombIsBoundedAndLeavesNoMemoryBehind) {
  const std::string bomb = make_bomb_pdf(size_t{1} << 30);
  ASSERT_LT(bomb.size(), 12u << 20);
  PdfLimits limits;
  limits.child.memory_mib = 256;
  limits.child.cpu_seconds = 4;
  limits.child.wall_seconds = 8;
  const size_t before = resident_bytes();
  try {
    parse_pdf(bomb, "bomb", limits);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(msg.find("within 256 MiB") != std::string::npos ||
                msg.find("exceeds") != std::string::npos)
        << msg;
  }
  const size_t after = resident_bytes();
  std::printf("[ rss      ] %zu-byte bomb: RSS %.1f MiB before, %.1f MiB after\n", bomb.size(),
              before / 1048576.0, after / 1048576.0);
  EXPECT_LT(after, before + (32u << 20)) << "RSS grew from " << before << " to " << after;
  // A small, honest inflated stream still parses.
  const auto doc = parse_pdf(make_bomb_pdf(600), "small", limits);
  ASSERT_EQ(doc.sections.size(), 1u);
  EXPECT_NE(doc.sections[0].text.find("AAAA"), std::string::npos);
}

TEST(Pdf, PageAndTextCapsAreClearErrors) {
  PdfLimits limits;
  limits.max_pages = 1;
  try {
    parse_pdf(make_pdf({"one", "two"}, "T"), "x", limits);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 pages; at most 1"), std::string::npos) << e.what();
  }
  limits = PdfLimits{};
  limits.child.max_output_bytes = 64;
  try {
    parse_pdf(make_pdf({"Hello from page one, with some words.", "And a second page of text."}, "T"),
              "x", limits);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text exceeds 64 bytes"), std::string::npos) << e.what();
  }
}

TEST(Pdf, WithoutAnExtractorAPdfIsAClearError) {
  ASSERT_TRUE(kPopplerInstalled);
  const PdfExtractor installed = pdf_extractor();
  set_pdf_extractor(nullptr);
  try {
    parse_pdf(make_pdf({"one"}, "T"), "x");
    set_pdf_extractor(installed);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    set_pdf_extractor(installed);
    EXPECT_NE(std::string(e.what()).find("cannot read PDF files"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_pdf(make_pdf({"one"}, "T"), "x").sections.size(), 1u);
}

}  // namespace
}  // namespace ragd::rag
