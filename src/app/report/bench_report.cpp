#include "app/report/bench_report.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>

#include "app/report/html_report.h"
#include "app/report/svg_chart.h"
#include "util/error.h"

namespace ragd::app::report {
namespace {

using nlohmann::json;

// A number at j[key] (or j[key][sub]); NaN when absent or not a number, so charts skip it.
double num(const json& j, const char* key, const char* sub = nullptr) {
  if (!j.is_object() || !j.contains(key)) return NAN;
  const json& v = sub ? (j[key].is_object() && j[key].contains(sub) ? j[key][sub] : json()) : j[key];
  return v.is_number() ? v.get<double>() : NAN;
}

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string cell(double v) { return format_number(v); }

const json& array_at(const json& j, const char* key) {
  static const json empty = json::array();
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : empty;
}

void throughput_section(HtmlReport& r, const json& t) {
  r.heading("Throughput (bench throughput)");
  r.paragraph(fmt::format("Server {} · {} s per level · max_tokens {}", str(t, "url"),
                          format_number(num(t, "duration_seconds")), format_number(num(t, "max_tokens"))));
  Series tok{"tokens/s", {}}, req{"requests/s", {}}, ttft50{"TTFT p50", {}}, ttft95{"TTFT p95", {}};
  BarChart lat{"Request latency percentiles by concurrency", "ms", {}, {{"p50", {}}, {"p95", {}}, {"max", {}}}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : array_at(t, "levels")) {
    const double c = num(l, "concurrency"), window = num(l, "window_seconds");
    const double rps = window > 0 ? num(l, "requests") / window : NAN;
    tok.points.emplace_back(c, num(l, "tokens_per_second"));
    req.points.emplace_back(c, rps);
    ttft50.points.emplace_back(c, num(l, "ttft_ms", "p50"));
    ttft95.points.emplace_back(c, num(l, "ttft_ms", "p95"));
    lat.categories.push_back(format_number(c) + " clients");
    lat.series[0].values.push_back(num(l, "latency_ms", "p50"));
    lat.series[1].values.push_back(num(l, "latency_ms", "p95"));
    lat.series[2].values.push_back(num(l, "latency_ms", "max"));
    rows.push_back({cell(c), cell(num(l, "requests")), cell(num(l, "errors")), cell(num(l, "tokens_per_second")),
                    cell(rps), cell(num(l, "ttft_ms", "p50")), cell(num(l, "ttft_ms", "p95")),
                    cell(num(l, "itl_ms", "p50")), cell(num(l, "latency_ms", "p95"))});
  }
  r.svg(render_line_chart({"Generated tokens/s against concurrency", "concurrent clients", "tokens/s", {tok}, true}));
  r.svg(render_line_chart({"Requests/s against concurrency", "concurrent clients", "requests/s", {req}, true}));
  r.svg(render_line_chart({"Time to first token against concurrency", "concurrent clients", "ms", {ttft50, ttft95}, true}));
  r.svg(render_bar_chart(lat));
  r.table({"clients", "requests", "errors", "tokens/s", "requests/s", "TTFT p50 ms", "TTFT p95 ms", "ITL p50 ms",
           "latency p95 ms"},
          rows);
}

void inference_section(HtmlReport& r, const json& models) {
  r.heading("Inference speed by model and quantization (bench inference)");
  BarChart speed{"Tokens/s by quantization", "tokens/s", {}, {{"prompt (pp)", {}}, {"generation (tg)", {}}}};
  BarChart lat{"Generation latency per token", "ms/token", {}, {{"p50", {}}, {"p95", {}}, {"max", {}}}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : models.is_array() ? models : json::array()) {
    const std::string label = str(m, "type");
    speed.categories.push_back(label);
    speed.series[0].values.push_back(num(m, "prompt_tokens_per_s"));
    speed.series[1].values.push_back(num(m, "gen_tokens_per_s"));
    lat.categories.push_back(label);
    lat.series[0].values.push_back(num(m, "ms_per_token_p50"));
    lat.series[1].values.push_back(num(m, "ms_per_token_p95"));
    lat.series[2].values.push_back(num(m, "ms_per_token_max"));
    rows.push_back({str(m, "model"), label, cell(num(m, "model_mib")), cell(num(m, "threads")),
                    cell(num(m, "prompt_tokens_per_s")), cell(num(m, "gen_tokens_per_s")),
                    cell(num(m, "ms_per_token_p50")), cell(num(m, "ms_per_token_p95")), cell(num(m, "peak_rss_mib"))});
  }
  r.svg(render_bar_chart(speed));
  r.svg(render_bar_chart(lat));
  r.table({"model", "type", "MiB", "threads", "pp t/s", "tg t/s", "ms/tok p50", "ms/tok p95", "peak RSS MiB"}, rows);
}

void rag_section(HtmlReport& r, const json& rag) {
  r.heading("Retrieval (bench rag)");
  r.paragraph("Synthetic corpora of growing size; latency of one search over the whole corpus. "
              "Dense timings use synthetic vectors (model-free).");
  Series bm25{"BM25 p50", {}}, bm25_99{"BM25 p99", {}}, exact{"exact vector p50", {}}, hnsw{"HNSW p50", {}};
  Series ingest{"chunks/s", {}}, rss{"max RSS MiB", {}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : array_at(rag, "results")) {
    const double d = num(row, "documents");
    bm25.points.emplace_back(d, num(row, "bm25_latency_ms_p50"));
    bm25_99.points.emplace_back(d, num(row, "bm25_latency_ms_p99"));
    exact.points.emplace_back(d, num(row, "exact_latency_ms_p50"));
    hnsw.points.emplace_back(d, num(row, "hnsw_latency_ms_p50"));
    ingest.points.emplace_back(d, num(row, "ingest_chunks_per_second"));
    rss.points.emplace_back(d, num(row, "max_rss_mib"));
    rows.push_back({cell(d), cell(num(row, "chunks")), cell(num(row, "ingest_chunks_per_second")),
                    cell(num(row, "bm25_latency_ms_p50")), cell(num(row, "bm25_latency_ms_p99")),
                    cell(num(row, "exact_latency_ms_p50")), cell(num(row, "hnsw_latency_ms_p50")),
                    cell(num(row, "max_rss_mib"))});
  }
  r.svg(render_line_chart({"Search latency against document count", "documents", "ms per query",
                           {bm25, bm25_99, exact, hnsw}, true}));
  r.svg(render_line_chart({"Ingestion throughput against document count", "documents", "chunks/s", {ingest}, true}));
  r.table({"documents", "chunks", "ingest chunks/s", "BM25 p50 ms", "BM25 p99 ms", "exact p50 ms", "HNSW p50 ms",
           "max RSS MiB"},
          rows);
}

void embed_section(HtmlReport& r, const json& e) {
  r.heading("Embedding (bench embed)");
  r.paragraph(fmt::format("Model {} · {} sentences of {} tokens on average", str(e, "model"),
                          format_number(num(e, "sentences")), format_number(num(e, "avg_tokens"))));
  BarChart chart{"Embedding throughput by mode (computed; cache hits in the table)", "sentences/s", {},
                 {{"sentences/s", {}}}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : array_at(e, "results")) {
    // Cache hits are orders of magnitude faster and would flatten the computed bars.
    if (str(m, "mode") != "cache hit") {
      chart.categories.push_back(str(m, "mode"));
      chart.series[0].values.push_back(num(m, "sentences_per_s"));
    }
    rows.push_back({str(m, "mode"), cell(num(m, "sentences_per_s")), cell(num(m, "tokens_per_s"))});
  }
  r.svg(render_bar_chart(chart));
  r.table({"mode", "sentences/s", "tokens/s"}, rows);
}

void memory_section(HtmlReport& r, const json& variants) {
  r.heading("Resident memory while serving (bench memory)");
  for (const auto& v : variants.is_array() ? variants : json::array()) {
    BarChart chart{str(v, "variant") + " loading: resident memory by step", "MiB", {}, {{"RSS", {}}, {"peak", {}}}};
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : array_at(v, "steps")) {
      chart.categories.push_back(str(s, "step"));
      chart.series[0].values.push_back(num(s, "rss_mib"));
      chart.series[1].values.push_back(num(s, "peak_mib"));
      rows.push_back({str(s, "step"), cell(num(s, "rss_mib")), cell(num(s, "peak_mib"))});
    }
    r.svg(render_bar_chart(chart));
    r.table({"step (" + str(v, "variant") + ")", "RSS MiB", "peak MiB"}, rows);
  }
}

void retrieval_section(HtmlReport& r, const json& b) {
  r.heading("Retrieval quality against document count (bench retrieval)");
  r.paragraph(fmt::format("{} questions of {} · embedder {} · every size holds the gold paragraph of each "
                          "question; the rest are distractors in corpus order. Latency excludes the "
                          "query's embedding.",
                          format_number(num(b, "questions")), str(b, "dataset"), str(b, "embedding_model")));
  // One series per mode, in the order the modes first appear.
  std::vector<Series> hit4, hit1, p50;
  auto series_for = [](std::vector<Series>& v, const std::string& name) -> Series& {
    for (auto& s : v) {
      if (s.name == name) return s;
    }
    return v.emplace_back(Series{name, {}});
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : array_at(b, "results")) {
    const double d = num(row, "documents");
    const std::string mode = str(row, "mode");
    series_for(hit4, mode + " hit@4").points.emplace_back(d, num(row, "hit_at_4"));
    series_for(hit1, mode + " hit@1").points.emplace_back(d, num(row, "hit_at_1"));
    series_for(p50, mode + " p50").points.emplace_back(d, num(row, "latency_ms_p50"));
    rows.push_back({cell(d), cell(num(row, "chunks")), mode, cell(num(row, "hit_at_1")), cell(num(row, "hit_at_4")),
                    cell(num(row, "mrr_at_10")), cell(num(row, "latency_ms_p50")), cell(num(row, "latency_ms_p95"))});
  }
  std::vector<Series> quality = hit4;
  quality.insert(quality.end(), hit1.begin(), hit1.end());
  r.svg(render_line_chart({"Retrieval quality against document count", "documents", "fraction of questions",
                           quality, false}));
  r.svg(render_line_chart({"Retrieval latency (p50) against document count", "documents", "ms per query", p50,
                           false}));
  r.table({"documents", "chunks", "mode", "hit@1", "hit@4", "MRR@10", "p50 ms", "p95 ms"}, rows);
}

std::string utc_now() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string render_bench_report(const json& benchmarks) {
  HtmlReport r("ragd benchmark report");
  r.paragraph("Generated " + utc_now() + ". The raw numbers are in results.json next to this file.");
  if (!benchmarks.is_object() || benchmarks.empty()) {
    r.paragraph("No benchmark results.");
    return r.str();
  }
  for (const auto& [name, j] : benchmarks.items()) {
    if (j.is_object() && j.contains("error")) {  // bench all records a failed benchmark so
      r.heading(name);                            // the others still make a report
      r.paragraph("Failed: " + (j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump()));
    } else if (j.is_object() && j.contains("skipped")) {  // e.g. its data is not installed
      r.heading(name);
      r.paragraph("Skipped: " + (j["skipped"].is_string() ? j["skipped"].get<std::string>() : j["skipped"].dump()));
    } else if (name == "throughput") {
      throughput_section(r, j);
    } else if (name == "inference") {
      inference_section(r, j);
    } else if (name == "rag") {
      rag_section(r, j);
    } else if (name == "embed") {
      embed_section(r, j);
    } else if (name == "memory") {
      memory_section(r, j);
    } else if (name == "retrieval") {
      retrieval_section(r, j);
    } else {
      r.heading(name);
      r.paragraph(j.dump(2));
    }
  }
  return r.str();
}

void write_bench_report(const std::filesystem::path& dir, const json& benchmarks) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("--report: cannot create {}: {}", dir.string(), ec.message());
  const json results = {{"generated", utc_now()}, {"benchmarks", benchmarks}};
  auto write = [&](const char* name, const std::string& text) {
    const auto path = dir / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) fail("--report: cannot write {}", path.string());
  };
  write("results.json", results.dump(2) + "\n");
  write("report.html", render_bench_report(benchmarks));
}

}  // namespace ragd::app::report
