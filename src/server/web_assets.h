// The web app's files (web/ in the source tree), compiled into the binary: `ragd serve`
// reads nothing from disk to serve its page. cmake/EmbedWebAssets.cmake turns every file
// under web/ into bytes in a generated source (web_assets_data.cpp in the build tree) at
// build time, so editing a web file rebuilds the binary.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace ragd::server {

struct WebAsset {
  std::string_view path;          // relative to web/, e.g. "index.html", "pages/ask.js"
  std::string_view content_type;  // from the extension, e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, from the file's SHA-256: changes with the content
  std::string_view body;
};

// Every embedded file, sorted by path.
std::span<const WebAsset> web_assets();

// The file at `path` (relative to web/), or nullptr. Paths holding "..", a leading '/',
// or a backslash are never found.
const WebAsset* find_web_asset(std::string_view path);

namespace detail {
// Defined by the generated source, sorted by path.
extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;
}  // namespace detail

}  // namespace ragd::server
