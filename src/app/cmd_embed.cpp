// ragd embed [--model FILE] [--json]: embeds each line of stdin with a BERT embedding model
// and prints one vector per line (space-separated floats, or JSON lines with --json).
// A debugging tool: the same EmbeddingService serves ingestion and queries.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/embed_options.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct EmbedArgs {
  EmbedModelOptions model;
  bool json = false;
  size_t lines_per_call = 256;
};

void print(const engine::EmbeddingService& service, const std::string& text,
           const std::vector<float>& v, bool json) {
  if (json) {
    nlohmann::json j = {{"text", text},
                        {"tokens", service.tokenize(text).size()},
                        {"embedding", v}};
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    // "{}" prints the shortest text that reads back as the same float.
    fmt::print("{}\n", fmt::join(v, " "));
  }
}

int run_embed(const EmbedArgs& a) {
  auto service = engine::EmbeddingService::open(a.model.resolve(), a.model.service);
  std::vector<std::string> lines;
  auto flush = [&] {
    auto vectors = service->embed(lines);
    for (size_t i = 0; i < lines.size(); ++i) print(*service, lines[i], vectors[i], a.json);
    std::fflush(stdout);
    lines.clear();
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (lines.size() >= a.lines_per_call) flush();
  }
  if (!lines.empty()) flush();
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto a = std::make_shared<EmbedArgs>();
  auto* sub = app.add_subcommand(
      "embed", "Embed each line of stdin with a BERT model; print one vector per line");
  a->model.add_to(*sub);
  sub->add_flag("--json", a->json,
                "JSON lines: {\"text\", \"tokens\", \"embedding\": [...]} per input line");
  sub->add_option("--lines-per-call", a->lines_per_call, "Lines embedded per batch")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  return Command{sub, [a] { return run_embed(*a); }};
});

}  // namespace
}  // namespace ragd::app
