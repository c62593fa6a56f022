// The web app (web/, docs/web.md), compiled into the binary (server/web_assets.h):
//   GET /               index.html
//   GET /assets/{path}  any other file under web/
// Public: the page loads without an API key; the API calls it makes still need one (it
// asks for it on a 401). Every file is sent with its ETag and `Cache-Control: no-cache`, so
// a browser revalidates (304, no body) and never runs the assets of an older binary.
#include "server/api_error.h"
#include "server/routes.h"
#include "server/web_assets.h"

namespace ragd::server {
namespace {

// The page loads its scripts, styles and data only from this server; no inline script,
// no framing by other sites.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

void send_asset(const WebAsset& a, const httplib::Request& req, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", std::string(a.etag));
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  if (a.content_type.starts_with("text/html")) res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  // If-None-Match may list several tags; ours are quoted hex, so containment is a match.
  if (req.get_header_value("If-None-Match").find(a.etag) != std::string::npos) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(a.body.data(), a.body.size(), std::string(a.content_type).c_str());
}

}  // namespace

void register_web_routes(HttpServer& http, ServerContext&) {
  http.get("/", "/", [](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
    const WebAsset* index = find_web_asset("index.html");
    if (!index) throw ApiError(404, "this binary was built without the web app (web/index.html)");
    send_asset(*index, req, res);
  }, Scope::Public);
  http.get(R"(/assets/(.+))", "/assets/{path}", [](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
    const std::string path = req.matches[1];
    const WebAsset* a = find_web_asset(path);
    if (!a) throw not_found("no web asset '" + path + "'", "path");
    send_asset(*a, req, res);
  }, Scope::Public);
}

}  // namespace ragd::server
