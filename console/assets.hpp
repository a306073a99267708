// The web console's files (console/assets/), embedded in the binary at build time by
// console/embed_assets.cmake: a node serves its console with nothing to install beside it.
#pragma once

#include <optional>
#include <string_view>

namespace cairn::console {

struct Asset {
  std::string_view content_type;
  std::string_view body;
};

// The file called `name` ("index.html", "console.js", …); nullopt for any other name.
std::optional<Asset> asset(std::string_view name);

}  // namespace cairn::console
