// libFuzzer target: a typed command as POST /api/v1/commands reads it: JSON, its request_type
// looked up in the catalog, its fields checked against Apple's schema and turned into the
// command plist (protocol::command_from_json). A mistake must be a ClientError naming the field
// (400), never a crash or another exception (500).
#include <rapidjson/document.h>

#include <cstdint>
#include <set>
#include <string>

#include "common/errors.hpp"
#include "protocol/command_catalog.hpp"
#include "protocol/command_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(reinterpret_cast<const char*>(data), size);
  if (doc.HasParseError() || !doc.IsObject()) return 0;
  if (!doc.HasMember("request_type") || !doc["request_type"].IsString()) return 0;
  const auto& catalog = cairn::protocol::CommandCatalog::builtin();
  const auto* spec = catalog.find(doc["request_type"].GetString());
  if (!spec) return 0;
  static const std::set<std::string, std::less<>> kApiMembers{"request_type", "devices",
                                                              "command_uuid", "no_push"};
  try {
    (void)cairn::protocol::command_from_json(catalog, *spec, doc, "fuzz", kApiMembers).to_xml();
  } catch (const cairn::ClientError&) {
  }
  return 0;
}
