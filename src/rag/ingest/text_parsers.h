// Parsers from a file's bytes to a Document: plain text, Markdown, HTML and PDF. The text
// parsers never fail on odd input: anything that is not markup is kept as text; the PDF
// parser throws ragd::Error for a file it cannot read. (JSONL, which holds many
// documents per file, is read by jsonl_reader.h.)
#pragma once

#include <string>
#include <string_view>

#include "rag/ingest/bounded_child.h"
#include "rag/ingest/document.h"

namespace ragd::rag {

// One section, title = `fallback_title` (callers pass the file name without extension).
Document parse_plain_text(std::string_view content, std::string fallback_title);

// ATX (#) and setext (=== / ---) headings start sections; headings inside fenced code blocks
// do not. The first level-1 heading is the title unless YAML-style front matter has a
// `title:`; other `key: value` front-matter lines become string metadata.
Document parse_markdown(std::string_view content, std::string fallback_title);

// Tags are dropped, block elements become paragraph breaks, <h1>–<h6> start sections,
// script/style/template/noscript contents are skipped, character references are decoded.
// Title: <title>, else the first <h1>, else `fallback_title`.
Document parse_html(std::string_view content, std::string fallback_title);

// Bounds on reading one PDF, whose parser runs in a child process (bounded_child.h).
struct PdfLimits {
  ChildLimits child;
  int max_pages = 10000;
};

// Text of every page (a section "Page N" each); title from the PDF's Title entry, else
// `fallback_title`. Throws ragd::Error for corrupt, truncated or password-protected files
// and for files that exceed `limits` (e.g. decompression bombs).
Document parse_pdf(std::string_view content, std::string fallback_title,
                   const PdfLimits& limits = {});

// Decodes HTML character references (&amp; &lt; &#233; &#x1F600; …); unknown names stay.
std::string decode_html_entities(std::string_view text);

}  // namespace ragd::rag
