// Inventory from results: a real device's DeviceInformation answer, and a result built from the
// response keys Apple documents for each inventory command, become fields with their filters.
#include "projector/inventory.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "plist/plist_json.hpp"
#include "projector/keys.hpp"
#include "projector/records.hpp"
#include "protocol/command_json.hpp"
#include "store/record_codec.hpp"
#include "tests/support/command_samples.hpp"
#include "tests/support/fixtures.hpp"

namespace cairn::projector {
namespace {

std::map<std::string, InventoryRecord> fields_of(MemoryState& state, const std::string& udid) {
  std::map<std::string, InventoryRecord> out;
  const auto prefix = keys::inventory_prefix(udid);
  state.scan(prefix, {}, [&](std::string_view key, std::string_view value) {
    out.emplace(std::string(key.substr(prefix.size())),
                store::decode_record<InventoryRecord>(value));
    return true;
  });
  return out;
}

TEST(Inventory, ARealDeviceInformationAnswer) {
  MemoryState state;
  apply_inventory(state, "U1", "DeviceInformation", "CMD-1", "2026-11-23T10:00:00.000Z",
                  testing::fixture("device-messages/DeviceInformation.1.plist"), "");
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
    apply_inventory(state, "U1", spec.request_type, "C1", "2026-11-23T10:00:00.000Z", body, "");
    const auto fields = fields_of(state, "U1");
    EXPECT_FALSE(fields.empty()) << spec.request_type << "\n" << body;
    apply_inventory(state, "U1", spec.request_type, "C1", "2026-11-23T10:00:00.000Z", body, "");
    EXPECT_EQ(fields_of(state, "U1").size(), fields.size()) << spec.request_type;
  }
  EXPECT_EQ(kinds, 8u);
}

TEST(Inventory, FilterIndexesFollowTheLatestValue) {
  MemoryState state;
  auto information = [&](const std::string& os) {
    apply_inventory(state, "U1", "DeviceInformation", "C", "2026-11-23T10:00:00.000Z",
                    "<plist><dict><key>QueryResponses</key><dict><key>OSVersion</key><string>" +
                        os + "</string></dict></dict></plist>",
                    "");
  };
  information("17.1");
  EXPECT_TRUE(state.get(keys::inventory_index("os_version", "17.1", "U1")));
  information("17.2");
  EXPECT_FALSE(state.get(keys::inventory_index("os_version", "17.1", "U1")));
  EXPECT_TRUE(state.get(keys::inventory_index("os_version", "17.2", "U1")));
  // Unreadable results change nothing.
  apply_inventory(state, "U1", "DeviceInformation", "C", "t", "not a plist", "");
  EXPECT_TRUE(state.get(keys::inventory_index("os_version", "17.2", "U1")));
  // Values with '/' cannot pose as another filter value's prefix.
  EXPECT_NE(keys::inventory_index_prefix("app", "a/b"),
            keys::inventory_index_prefix("app", "a") + "b/");
}

// A list narrowed by the command (Identifiers, ManagedOnly) is kept apart: it does not replace
// the full list, nor its filter entries.
TEST(Inventory, ANarrowedListDoesNotReplaceTheFullOne) {
  MemoryState state;
  auto apps = [&](const std::string& id, const std::string& command) {
    apply_inventory(state, "U1", "InstalledApplicationList", "C", "t",
                    "<plist><dict><key>InstalledApplicationList</key><array><dict>"
                    "<key>Identifier</key><string>" +
                        id + "</string></dict></array></dict></plist>",
                    command);
  };
  apps("com.example.notes", "");
  apps("com.example.maps",
       "<plist><dict><key>CommandUUID</key><string>C</string><key>Command</key><dict>"
       "<key>RequestType</key><string>InstalledApplicationList</string><key>Identifiers</key>"
       "<array><string>com.example.maps</string></array></dict></dict></plist>");
  const auto fields = fields_of(state, "U1");
  EXPECT_TRUE(fields.contains("InstalledApplicationList.Narrowed"));
  EXPECT_NE(fields.at("InstalledApplicationList").json.find("com.example.notes"),
            std::string::npos);
  EXPECT_TRUE(state.get(keys::inventory_index("app", "com.example.notes", "U1")));
  EXPECT_FALSE(state.get(keys::inventory_index("app", "com.example.maps", "U1")));
  clear_inventory(state, "U1");
  EXPECT_TRUE(fields_of(state, "U1").empty());
  EXPECT_FALSE(state.get(keys::inventory_index("app", "com.example.notes", "U1")));
}

// What a device sends is shown as valid JSON: no NaN, no broken UTF-8.
TEST(Inventory, DeviceValuesBecomeValidJson) {
  Plist p = Plist::new_dict();
  plist_dict_set_item(p.root(), "nan", plist_new_real(std::nan("")));
  p.set_string("text", "caf\xc3");  // truncated UTF-8
  const std::string json = plist_to_json(p.root());
  EXPECT_EQ(json, "{\"nan\":null,\"text\":\"caf\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace cairn::projector
