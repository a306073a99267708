// What an admin API call answers, independent of HTTP, and the NanoMDM answer shapes and the
// parameter checks several of them share.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json_writer.hpp"

namespace cairn::ingest {

struct ApiResponse {
  int status = 200;
  std::string json;  // the body: JSON unless content_type says otherwise
  std::string content_type = "application/json";
};

using IdRefusals = std::vector<std::pair<std::string, std::string>>;  // device id → why refused

// {"error": "<what> not found"}, 404.
ApiResponse not_found(std::string_view what);
// NanoMDM's per-ID status object: {"status": {"<id>": {"<field>": "<why>"}}}, omitted if empty.
void write_id_errors(JsonWriter& j, const IdRefusals& errors, std::string_view field);
// NanoMDM's status codes: 200 all accepted, 207 some, 500 none.
int multi_status(const IdRefusals& errors, bool any_accepted);
// Inventory filters as /api/v1/devices takes them (name, value), every one to match.
using DeviceFilters = std::vector<std::pair<std::string, std::string>>;
// Throws BadRequest naming the first filter that is not one (projector/inventory.hpp).
void require_known_filters(const DeviceFilters& filters);

// "a,b,c" → {"a","b","c"}; empty items dropped.
std::vector<std::string> split_ids(std::string_view ids);

}  // namespace cairn::ingest
