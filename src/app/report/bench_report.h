// `ragd bench ... --report DIR`: writes DIR/results.json (the raw numbers, exactly as the
// benchmarks' --json output, keyed by benchmark name) and DIR/report.html (tables and inline
// SVG charts of the same numbers; one self-contained file).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace ragd::app::report {

// benchmarks: an object {"throughput": <bench throughput --json>, "rag": ..., ...}; names
// without a dedicated renderer get their JSON shown verbatim. Creates DIR if needed; throws
// ragd::Error if it cannot write there.
void write_bench_report(const std::filesystem::path& dir, const nlohmann::json& benchmarks);

// The HTML alone (for tests and write_bench_report).
std::string render_bench_report(const nlohmann::json& benchmarks);

}  // namespace ragd::app::report
