#include <gtest/gtest.h>

#include "rag/ingest/document_reader.h"
#include "rag/ingest/temp_dir.h"
#include "rag/ingest/text_parsers.h"
#include "test_util.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

TEST(Markdown, HeadingsBecomeSectionPathsAndTheFirstH1IsTheTitle) {
  auto d = parse_markdown(
      "# Guide\n\nIntro text.\n\n## Install\n\nRun it.\n\n### Linux\n\napt install.\n\n"
      "## Use ##\n\nCall it.\n",
      "fallback");
  EXPECT_EQ(d.title, "Guide");
  ASSERT_EQ(d.sections.size(), 4u);
  EXPECT_EQ(d.sections[0].heading, "");
  EXPECT_EQ(d.sections[0].text, "Intro text.");
  EXPECT_EQ(d.sections[1].heading, "Install");
  EXPECT_EQ(d.sections[2].heading, "Install > Linux");
  EXPECT_EQ(d.sections[2].text, "apt install.");
  EXPECT_EQ(d.sections[3].heading, "Use");
}

TEST(Markdown, IgnoresHeadingsInCodeFencesAndReadsSetextAndFrontMatter) {
  auto d = parse_markdown(
      "---\ntitle: \"Front\"\nauthor: Ann\n---\nSub\n===\n\n```\n# not a heading\n```\n\nPart\n---\ntext\n",
      "fallback");
  EXPECT_EQ(d.title, "Front");
  EXPECT_EQ(d.metadata["author"], "Ann");
  ASSERT_EQ(d.sections.size(), 2u);
  EXPECT_EQ(d.sections[0].heading, "Sub");
  EXPECT_NE(d.sections[0].text.find("# not a heading"), std::string::npos);
  EXPECT_EQ(d.sections[1].heading, "Sub > Part");
  EXPECT_EQ(d.sections[1].text, "text");
}

TEST(Markdown, NoHeadingsUsesTheFallbackTitle) {
  auto d = parse_markdown("just text\r\nmore\r\n", "notes");
  EXPECT_EQ(d.title, "notes");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text, "just text\nmore");
}

TEST(Html, ExtractsTitleHeadingsAndTextAndSkipsScripts) {
  auto d = parse_html(
      "<!DOCTYPE html><html><head><title>Page &amp; more</title><style>p{}</style></head>"
      "<body><h1>Top</h1><p>First&nbsp;para with <b>bold</b>.</p><script>var x = '<p>';</script>"
      "<h2>Sub</h2><p>Caf&eacute; &#233; &#x41;</p><!-- hidden --></body></html>",
      "fallback");
  EXPECT_EQ(d.title, "Page & more");
  ASSERT_EQ(d.sections.size(), 2u);
  EXPECT_EQ(d.sections[0].heading, "Top");
  EXPECT_EQ(d.sections[0].text, "First para with bold.");
  EXPECT_EQ(d.sections[1].heading, "Top > Sub");
  EXPECT_EQ(d.sections[1].text, "Café é A");
}

TEST(Html, SurvivesBrokenMarkup) {
  for (const std::string& bad : std::vector<std::string>{"<", "<p", "<<>>", "<script>never closed", "&#xFFFFFFFF; &#; &bogus;",
                          "<h1>unclosed heading", "</p></p></div>", std::string("a\0b", 3)}) {
    EXPECT_NO_THROW(parse_html(bad, "x")) << bad;
  }
  EXPECT_EQ(decode_html_entities("&#xFFFFFFFF;"), "\xEF\xBF\xBD");
  EXPECT_EQ(decode_html_entities("a &bogus; b"), "a &bogus; b");
}

TEST(Jsonl, ReadsBeirRecords) {
  std::string why;
  auto d = document_from_json(
      nlohmann::json::parse(R"({"_id": 42, "title": "T", "text": "body", "metadata": {"y": 1}, "lang": "en"})"),
      "fb", why);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->external_id, "42");
  EXPECT_EQ(d->title, "T");
  EXPECT_EQ(d->sections.at(0).text, "body");
  EXPECT_EQ(d->metadata["y"], 1);
  EXPECT_EQ(d->metadata["lang"], "en");
  EXPECT_FALSE(document_from_json(nlohmann::json::parse("[1]"), "fb", why));
  EXPECT_FALSE(document_from_json(nlohmann::json::parse(R"({"_id": "x"})"), "fb", why));
  auto no_id = document_from_json(nlohmann::json::parse(R"({"contents": "c"})"), "file:3", why);
  ASSERT_TRUE(no_id);
  EXPECT_EQ(no_id->external_id, "file:3");
}

TEST(Jsonl, SkipsCorruptLinesAndCountsThem) {
  TempDir tmp;
  auto file = tmp.path() / "c.jsonl";
  testing::write_file(file, "{\"_id\":\"a\",\"text\":\"one\"}\n{broken\n\n[1,2]\n{\"_id\":\"b\",\"text\":\"two\"}");
  auto reader = open_document_reader(file, FileKind::Jsonl);
  std::vector<std::string> ids;
  while (auto d = reader->next()) ids.push_back(d->external_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(reader->errors(), 2u);
}

TEST(DocumentReader, FileKindsAndMissingFiles) {
  EXPECT_EQ(file_kind("a/B.MD"), FileKind::Markdown);
  EXPECT_EQ(file_kind("x.htm"), FileKind::Html);
  EXPECT_EQ(file_kind("x.jsonl"), FileKind::Jsonl);
  EXPECT_EQ(file_kind("x.PDF"), FileKind::Pdf);
  EXPECT_FALSE(file_kind("x.docx"));
  EXPECT_THROW(open_document_reader("/nonexistent/x.jsonl", FileKind::Jsonl), Error);
  auto r = open_document_reader("/nonexistent/x.txt", FileKind::Text);
  EXPECT_THROW(r->next(), Error);
}

}  // namespace
}  // namespace ragd::rag
