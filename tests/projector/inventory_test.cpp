// Inventory from results: a real device's DeviceInformation answer, and a result built from the
// response keys Apple documents for each inventory command, become fields with their filters.
#include "projector/inventory.hpp"

#include <gtest/gtest.h>

#include "projector/keys.hpp"
#include "projector/record_codec.hpp"
#include "projector/records.hpp"
#include "protocol/command_json.hpp"
#include "tests/support/command_samples.hpp"
#include "tests/support/fixtures.hpp"

namespace cairn::projector {
namespace {

std::map<std::string, InventoryRecord> fields_of(MemoryState& state, const std::string& udid) {
  std::map<std::string, InventoryRecord> out;
  const auto prefix = keys::inventory_prefix(udid);
  state.scan(prefix, {}, [&](std::string_view key, std::string_view value) {
    out.emplace(std::string(key.substr(prefix.size())), decode_record<InventoryRecord>(value));
    return true;
  });
  return out;
}

TEST(Inventory, ARealDeviceInformationAnswer) {
  MemoryState state;
  apply_inventory(state, "U1", "DeviceInformation", "CMD-1", "2026-11-23T10:00:00.000Z",
                  testing::fixture("device-messages/DeviceInformation.1.plist"));
  const auto fields = fields_of(state, "U1");
  ASSERT_TRUE(fields.contains("DeviceInformation.HostName"));
  EXPECT_EQ(fields.at("DeviceInformation.HostName").json, "\"fruit.example.com\"");
  EXPECT_EQ(fields.at("DeviceInformation.HostName").command_uuid, "CMD-1");
  EXPECT_EQ(fields.at("DeviceInformation.HostName").updated_at, "2026-11-23T10:00:00.000Z");
}

// For each inventory command, a result with every response key Apple documents (sample values
// of the documented types) becomes inventory; applying it again changes nothing.
TEST(Inventory, EveryInventoryCommandsDocumentedResult) {
  const auto& catalog = protocol::CommandCatalog::builtin();
  size_t kinds = 0;
  for (const auto& spec : catalog.commands()) {
    if (!is_inventory_request(spec.request_type)) continue;
    ++kinds;
    Plist result = Plist::new_dict();
    for (const auto& key : spec.response_keys) {
      rapidjson::StringBuffer buffer;
      testing::JsonWriter w(buffer);
      testing::sample_json(w, key);
      rapidjson::Document sample;
      sample.Parse(buffer.GetString());
      plist_dict_set_item(result.root(), key.name.c_str(),
                          plist_copy(protocol::value_from_json(sample, &key, key.name).root()));
    }
    MemoryState state;
    const std::string body = result.to_xml();
    apply_inventory(state, "U1", spec.request_type, "C1", "2026-11-23T10:00:00.000Z", body);
    const auto fields = fields_of(state, "U1");
    EXPECT_FALSE(fields.empty()) << spec.request_type << "\n" << body;
    apply_inventory(state, "U1", spec.request_type, "C1", "2026-11-23T10:00:00.000Z", body);
    EXPECT_EQ(fields_of(state, "U1").size(), fields.size()) << spec.request_type;
  }
  EXPECT_EQ(kinds, 8u);
}

TEST(Inventory, FilterIndexesFollowTheLatestValue) {
  MemoryState state;
  auto information = [&](const std::string& os) {
    apply_inventory(state, "U1", "DeviceInformation", "C", "2026-11-23T10:00:00.000Z",
                    "<plist><dict><key>QueryResponses</key><dict><key>OSVersion</key><string>" +
                        os + "</string></dict></dict></plist>");
  };
  information("17.1");
  EXPECT_TRUE(state.get(keys::inventory_index("os_version", "17.1", "U1")));
  information("17.2");
  EXPECT_FALSE(state.get(keys::inventory_index("os_version", "17.1", "U1")));
  EXPECT_TRUE(state.get(keys::inventory_index("os_version", "17.2", "U1")));
  // Unreadable results change nothing.
  apply_inventory(state, "U1", "DeviceInformation", "C", "t", "not a plist");
  EXPECT_TRUE(state.get(keys::inventory_index("os_version", "17.2", "U1")));
  // Values with '/' cannot pose as another filter value's prefix.
  EXPECT_NE(keys::inventory_index_prefix("app", "a/b"),
            keys::inventory_index_prefix("app", "a") + "b/");
}

}  // namespace
}  // namespace cairn::projector
