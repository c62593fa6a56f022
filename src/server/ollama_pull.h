// Ollama's POST /api/pull: installs a model of ragd's catalog (engine::pull_catalog(), so
// $RAGD_MODEL_CATALOG too) into the server's model directory with engine::pull_model; the
// registry then offers it by its catalog name, as it discovers new files in that directory.
//   - already offered (under the name asked, or its catalog name): {"status":"success"};
//   - not in the catalog: 404 naming the catalog's models;
//   - the server has no model directory: 501 saying so.
// Streamed (the default), NDJSON as Ollama writes it: {"status":"pulling manifest"}, then
// {"status":"downloading <file>","digest":"sha256:<file's>","total":N,"completed":M} as the
// file grows (at each piece's start and end, and about every 1 % between), {"status":
// "verifying sha256 digest"}, {"status":"success"}. A failure once the stream has begun is
// a last line {"error":"..."}. Not streamed: one {"status":"success"} at the end, or a 500
// with the reason.
// One pull at a time per server (ServerContext::pull_mu): a second pull waits, then finds the
// model installed. A client that disconnects abandons its pull, which installs nothing.
// Register it admin-scoped: it writes to the server's disk.
#pragma once

#include <httplib.h>

#include "server/server_context.h"

namespace ragd::server {

// Throws ApiError for what is refused before any download starts.
void handle_ollama_pull(ServerContext& ctx, const httplib::Request& http, httplib::Response& res);

}  // namespace ragd::server
