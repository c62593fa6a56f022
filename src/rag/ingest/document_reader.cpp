#include "rag/ingest/document_reader.h"

#include <fstream>
#include <sstream>

#include "rag/ingest/section_builder.h"
#include "rag/ingest/text_parsers.h"
#include "util/error.h"
#include "util/json_limits.h"
#include "util/log.h"

namespace ragd::rag {
namespace {

std::string lower_ext(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string_view strip_bom(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  return s;
}

// A .txt/.md/.html file: read whole (such files are small), parse once.
class WholeFileReader : public DocumentReader {
 public:
  WholeFileReader(std::filesystem::path path, FileKind kind) : path_(std::move(path)), kind_(kind) {}

  std::optional<Document> next() override {
    if (done_) return std::nullopt;
    done_ = true;
    std::ifstream in(path_, std::ios::binary);
    if (!in) fail("cannot read {}", path_.string());
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string bytes = buf.str();
    bytes_ = bytes.size();
    std::string_view content = strip_bom(bytes);
    std::string stem = path_.stem().string();
    Document doc = kind_ == FileKind::Markdown ? parse_markdown(content, stem)
                   : kind_ == FileKind::Html   ? parse_html(content, stem)
                   : kind_ == FileKind::Pdf    ? parse_pdf_file(bytes, stem)
                                               : parse_plain_text(content, stem);
    doc.external_id = path_.string();
    doc.metadata["source"] = path_.string();
    doc.metadata["type"] = file_kind_name(kind_);
    return doc;
  }
  uint64_t bytes_read() const override { return bytes_; }

 private:
  Document parse_pdf_file(std::string_view bytes, std::string stem) const {
    try {
      return parse_pdf(bytes, std::move(stem));
    } catch (const Error& e) {
      fail("{}: {}", path_.string(), e.what());
    }
  }

  std::filesystem::path path_;
  FileKind kind_;
  bool done_ = false;
  uint64_t bytes_ = 0;
};

class JsonlReader : public DocumentReader {
 public:
  explicit JsonlReader(std::filesystem::path path) : path_(std::move(path)), in_(path_, std::ios::binary) {
    if (!in_) fail("cannot read {}", path_.string());
  }

  std::optional<Document> next() override {
    std::string line;
    while (std::getline(in_, line)) {
      bytes_ += line.size() + 1;
      ++line_no_;
      std::string_view text = line_no_ == 1 ? strip_bom(line) : std::string_view(line);
      if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      // Records are untrusted: bounded depth, so a deeply nested line cannot overflow the stack.
      std::string why;
      auto record = try_parse_json_bounded(text, why);
      std::optional<Document> doc;
      if (!record.is_discarded()) {
        doc = document_from_json(record, fmt::format("{}:{}", path_.string(), line_no_), why);
      }
      if (!doc) {
        log::warn("{}:{}: skipped record: {}", path_.string(), line_no_, why);
        if (errors_ == 0) first_error_ = fmt::format("line {}: {}", line_no_, why);
        ++errors_;
        continue;
      }
      doc->metadata["source"] = path_.string();
      return doc;
    }
    return std::nullopt;
  }
  uint64_t bytes_read() const override { return bytes_; }
  size_t errors() const override { return errors_; }
  std::string first_error() const override { return first_error_; }

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  uint64_t bytes_ = 0;
  size_t line_no_ = 0;
  size_t errors_ = 0;
  std::string first_error_;
};

std::optional<std::string> scalar_string(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  return std::nullopt;
}

}  // namespace

std::optional<FileKind> file_kind(const std::filesystem::path& path) {
  std::string ext = lower_ext(path);
  if (ext == ".txt" || ext == ".text") return FileKind::Text;
  if (ext == ".md" || ext == ".markdown") return FileKind::Markdown;
  if (ext == ".html" || ext == ".htm") return FileKind::Html;
  if (ext == ".jsonl") return FileKind::Jsonl;
  if (ext == ".pdf") return FileKind::Pdf;
  return std::nullopt;
}

const char* file_kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::Text: return "text";
    case FileKind::Markdown: return "markdown";
    case FileKind::Html: return "html";
    case FileKind::Jsonl: return "jsonl";
    case FileKind::Pdf: return "pdf";
  }
  return "?";
}

const char* supported_extensions() { return ".txt, .md, .markdown, .html, .htm, .jsonl, .pdf"; }

std::unique_ptr<DocumentReader> open_document_reader(const std::filesystem::path& path,
                                                     FileKind kind) {
  if (kind == FileKind::Jsonl) return std::make_unique<JsonlReader>(path);
  return std::make_unique<WholeFileReader>(path, kind);
}

std::optional<Document> document_from_json(const nlohmann::json& record,
                                           const std::string& fallback_id, std::string& why) {
  if (!record.is_object()) {
    why = "a record must be a JSON object";
    return std::nullopt;
  }
  Document doc;
  std::optional<std::string> id;
  if (auto it = record.find("_id"); it != record.end()) id = scalar_string(*it);
  if (auto it = record.find("id"); !id && it != record.end()) id = scalar_string(*it);
  doc.external_id = id && !id->empty() ? *id : fallback_id;
  if (auto it = record.find("title"); it != record.end() && it->is_string()) doc.title = *it;
  std::string text;
  for (const char* key : {"text", "contents", "content", "body"}) {
    if (auto it = record.find(key); it != record.end() && it->is_string()) {
      text = it->get<std::string>();
      break;
    }
  }
  if (auto it = record.find("metadata"); it != record.end() && it->is_object()) {
    doc.metadata.update(*it);
  }
  for (const auto& [key, value] : record.items()) {
    if (value.is_primitive() && !value.is_null() && key != "_id" && key != "id" &&
        key != "title" && key != "text" && key != "contents" && key != "content" &&
        key != "body") {
      doc.metadata[key] = value;
    }
  }
  std::string_view body = trim(text);
  if (!body.empty()) doc.sections.push_back(Section{"", std::string(body)});
  if (doc.empty()) {
    why = "no text and no title";
    return std::nullopt;
  }
  return doc;
}

}  // namespace ragd::rag
