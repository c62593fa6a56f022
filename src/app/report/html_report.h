// A self-contained HTML page (inline CSS, inline SVG, no scripts, no external assets) built
// from headings, paragraphs, tables and charts. Text given to heading/paragraph/table is
// escaped; svg() takes markup from svg_chart.h as is.
#pragma once

#include <string>
#include <vector>

namespace ragd::app::report {

class HtmlReport {
 public:
  explicit HtmlReport(std::string title);

  void heading(const std::string& text);  // a section (<h2>)
  void paragraph(const std::string& text);
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  void svg(const std::string& markup);

  std::string str() const;

 private:
  std::string title_;
  std::string body_;
};

}  // namespace ragd::app::report
