#include "ingest/api_response.hpp"

#include "common/errors.hpp"
#include "projector/inventory.hpp"

namespace cairn::ingest {

ApiResponse not_found(std::string_view what) {
  JsonWriter j;
  j.begin_object().field("error", std::string(what) + " not found").end_object();
  return {404, j.str()};
}

void write_id_errors(JsonWriter& j, const IdRefusals& errors, std::string_view field) {
  if (errors.empty()) return;
  j.key("status").begin_object();
  for (const auto& [id, why] : errors) j.key(id).begin_object().field(field, why).end_object();
  j.end_object();
}

void require_known_filters(const DeviceFilters& filters) {
  for (const auto& [filter, value] : filters)
    if (!projector::is_known_filter(filter))
      throw BadRequest("unknown filter " + filter +
                       " (os_version, model, serial, passcode_compliant, app, profile, or "
                       "status.<item> for a declarative status item)");
}

int multi_status(const IdRefusals& errors, bool any_accepted) {
  return errors.empty() ? 200 : any_accepted ? 207 : 500;
}

std::vector<std::string> split_ids(std::string_view ids) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= ids.size()) {
    size_t comma = ids.find(',', start);
    if (comma == std::string_view::npos) comma = ids.size();
    if (comma > start) out.emplace_back(ids.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace cairn::ingest
