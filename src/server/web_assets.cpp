#include "server/web_assets.h"

#include <algorithm>

namespace ragd::server {

std::span<const WebAsset> web_assets() { return {detail::kWebAssets, detail::kWebAssetCount}; }

const WebAsset* find_web_asset(std::string_view path) {
  // The table only holds files under web/, so this is no file-system access; the checks
  // keep the lookup's contract plain for callers that pass a URL path straight through.
  if (path.empty() || path.front() == '/' || path.find("..") != std::string_view::npos ||
      path.find('\\') != std::string_view::npos) {
    return nullptr;
  }
  auto all = web_assets();
  auto it = std::lower_bound(all.begin(), all.end(), path,
                             [](const WebAsset& a, std::string_view p) { return a.path < p; });
  return it != all.end() && it->path == path ? &*it : nullptr;
}

}  // namespace ragd::server
