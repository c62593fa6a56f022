// ragd collections: lists the collections of a store with their sizes; --path prints where
// the store lives (the default data directory unless --db says otherwise), for scripts such
// as scripts/run-main that must use the same one as the CLI.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/rag_options.h"

namespace ragd::app {
namespace {

struct CollectionsOptions {
  StoreLocation where;
  bool json = false;
  bool path = false;
};

int run_collections(const CollectionsOptions& o) {
  if (o.path) {
    // Needs no store: the answer is where one is, or where 'ragd ingest' will create it.
    fmt::print("{}\n", o.where.db_dir);
    return 0;
  }
  auto store = open_store(o.where, /*must_exist=*/true);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : store->list_collections()) {
    auto s = store->stats(c.id);
    if (o.json) {
      list.push_back({{"name", c.name}, {"sources", s.sources}, {"documents", s.documents},
                      {"chunks", s.chunks}, {"embeddings", s.embeddings},
                      {"embedding_model", c.embedding_model}, {"embedding_dim", c.embedding_dim}});
    } else {
      fmt::print("{:<24} {:>8} sources {:>10} documents {:>10} chunks {:>10} embeddings\n", c.name,
                 s.sources, s.documents, s.chunks, s.embeddings);
    }
  }
  if (o.json) fmt::print("{}\n", list.dump(2));
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<CollectionsOptions>();
  auto* sub = app.add_subcommand("collections", "List the collections of a store and their sizes");
  add_store_options(sub, o->where, /*with_collection=*/false);
  sub->add_flag("--json", o->json, "Print as JSON");
  sub->add_flag("--path", o->path, "Print the data directory (--db or its default) and exit");
  return Command{sub, [o] { return run_collections(*o); }};
});

}  // namespace
}  // namespace ragd::app
