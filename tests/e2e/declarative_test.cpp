// Declarative device management on a real node, driven as KMFDDM's scripts drive it and synced by
// a simulated device speaking the protocol: declarations checked and stored, a set assigned, the
// device told to sync, what it fetched and reported read back, and replay giving the same state.
#include <gtest/gtest.h>

#include "app/single_node.hpp"
#include "devsim/declarative_sync.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

const std::string kPasscode =
    R"({"Type":"com.apple.configuration.passcode.settings","Identifier":"com.example.passcode",)"
    R"("Payload":{"MinimumLength":8}})";
const std::string kActivation =
    R"({"Type":"com.apple.activation.simple","Identifier":"com.example.activation",)"
    R"("Payload":{"StandardConfigurations":["com.example.passcode"]}})";

class Declarative : public ::testing::Test {
 protected:
  TempDir dir;
  TestNode node{dir.path()};
  devsim::Endpoint endpoint = [this] {
    devsim::Endpoint e;
    e.port = node.port();
    e.server_ca_file = node.ca_file();
    return e;
  }();
  devsim::SimulatedDevice device{"DDM-DEVICE-1", node.issue_device_identity("DDM-DEVICE-1"),
                                 "com.apple.mgmt.ddm", 5};

  int put(const std::string& path, const std::string& body = "") {
    auto r = node.admin()->Put(path, body, "application/json");
    EXPECT_TRUE(r) << path;
    last_body = r ? r->body : "";
    return r ? r->status : 0;
  }
  int remove(const std::string& path) {
    auto r = node.admin()->Delete(path);
    last_body = r ? r->body : "";
    return r ? r->status : 0;
  }
  std::string get(const std::string& path) {
    auto r = node.admin_get(path);
    EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
    return r ? r->body : "";
  }
  // One command session: Idle, then each command executed and its result sent; then the DDM
  // sync a DeclarativeManagement command asked for.
  devsim::SyncOutcome session() {
    devsim::DeviceConnection connection(endpoint, device.identity());
    auto r = connection.report(device.idle());
    while (r && r->status == 200 && !r->body.empty())
      r = connection.report(device.execute(r->body));
    EXPECT_TRUE(device.take_sync_request()) << "no DeclarativeManagement command came";
    return devsim::sync_declarations(device, connection);
  }
  std::string last_body;
};

TEST_F(Declarative, DeclarationsAreStoredAssignedSyncedAndReportedAsEvents) {
  devsim::DeviceConnection enrollment(endpoint, device.identity());
  ASSERT_EQ(enrollment.checkin(device.authenticate())->status, 200);
  ASSERT_EQ(enrollment.checkin(device.token_update())->status, 200);

  // Refused, naming what is wrong: a wrong value type, an unknown type, a missing reference.
  EXPECT_EQ(put("/v1/declarations", R"({"Type":"com.apple.configuration.passcode.settings",)"
                                    R"("Identifier":"bad","Payload":{"MinimumLength":"8"}})"),
            400);
  EXPECT_NE(last_body.find("Payload.MinimumLength"), std::string::npos) << last_body;
  EXPECT_EQ(put("/v1/declarations", R"({"Type":"com.example.x","Identifier":"x","Payload":{}})"),
            400);
  EXPECT_EQ(put("/v1/declarations", kActivation), 400);
  EXPECT_NE(last_body.find("StandardConfigurations[0]"), std::string::npos) << last_body;
  // Stored (204), the same again unchanged (304), then what names it.
  EXPECT_EQ(put("/v1/declarations", kPasscode), 204);
  EXPECT_EQ(put("/v1/declarations", kPasscode), 304);
  EXPECT_EQ(put("/v1/declarations", kActivation), 204);
  EXPECT_EQ(get("/v1/declarations"), R"(["com.example.activation","com.example.passcode"])");
  EXPECT_NE(get("/v1/declarations/com.example.passcode").find("\"ServerToken\":\""),
            std::string::npos);

  // The set holds the activation; the passcode policy comes with it (the activation names it).
  EXPECT_EQ(put("/v1/set-declarations/staff?declaration=com.example.activation"), 204);
  EXPECT_EQ(put("/v1/set-declarations/staff?declaration=com.example.activation"), 304);
  EXPECT_EQ(get("/v1/sets"), R"(["staff"])");
  EXPECT_EQ(put("/v1/enrollment-sets/DDM-DEVICE-1?set=staff"), 204);
  EXPECT_EQ(get("/v1/enrollment-sets/DDM-DEVICE-1"), R"(["staff"])");
  EXPECT_EQ(remove("/v1/declarations/com.example.passcode"), 409) << "the activation names it";

  auto synced = session();
  EXPECT_EQ(synced.error, "");
  EXPECT_EQ(synced.declarations_fetched, 2);
  EXPECT_TRUE(synced.reported);
  EXPECT_FALSE(device.passcode_compliant()) << "a six-digit passcode against MinimumLength 8";
  const std::string status = get("/v1/declaration-status/DDM-DEVICE-1");
  for (const auto* id : {"com.example.activation", "com.example.passcode"})
    EXPECT_NE(
        status.find(std::string(R"("identifier":")") + id + R"(","active":true,"valid":"valid")"),
        std::string::npos)
        << status;
  EXPECT_EQ(status.find(R"("current":false)"), std::string::npos) << status;
  const std::string values = get("/v1/status-values/DDM-DEVICE-1?prefix=.StatusItems.passcode.%");
  EXPECT_NE(values.find(R"({"path":".StatusItems.passcode.is-compliant","value":false)"),
            std::string::npos)
      << values;
  EXPECT_NE(get("/v1/status-report/DDM-DEVICE-1").find("\"StatusItems\""), std::string::npos);

  // A policy the device cannot apply: reported invalid, shown among the errors, still current.
  const std::string too_long =
      R"({"Type":"com.apple.configuration.passcode.settings","Identifier":"com.example.passcode",)"
      R"("Payload":{"MinimumLength":20}})";
  EXPECT_EQ(put("/v1/declarations", too_long), 204);
  synced = session();
  EXPECT_EQ(synced.error, "");
  EXPECT_EQ(synced.declarations_fetched, 1) << "only the changed declaration is fetched again";
  EXPECT_NE(get("/v1/declaration-status/DDM-DEVICE-1")
                .find(R"("identifier":"com.example.passcode","active":false,"valid":"invalid")"),
            std::string::npos);
  EXPECT_NE(get("/v1/status-errors/DDM-DEVICE-1").find("Error.ConfigurationCannotBeApplied"),
            std::string::npos);

  // A declaration the enrollment is not given is a 404; a malformed report a 400.
  devsim::DeviceConnection connection(endpoint, device.identity());
  EXPECT_EQ(
      connection.checkin(device.declarative_management("declaration/configuration/other"))->status,
      404);
  EXPECT_EQ(connection.checkin(device.declarative_management("status", "[1]"))->status, 400);
  EXPECT_EQ(connection.checkin(device.declarative_management("nonsense"))->status, 400);
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(connection
                .checkin(device.declarative_management(
                    "status", R"({"StatusItems":{"x":)" + deep + R"(},"Errors":[]})"))
                ->status,
            400)
      << "nested deeper than a report may be";

  // Every step is in the log; a replay rebuilds the same projection, DDM state included.
  const auto events = logged_events(dir.path());
  size_t stored = 0, reports = 0;
  for (const auto& e : events) {
    stored += std::holds_alternative<events::DeclarationStored>(e.payload);
    reports += std::holds_alternative<events::StatusReported>(e.payload);
  }
  EXPECT_EQ(stored, 3u);
  EXPECT_EQ(reports, 2u);
  auto live = node.admin_get("/v1/projection");
  ASSERT_EQ(live->status, 200);
  node.stop();
  TempDir fresh;
  const auto replayed = app::replay(dir.path(), std::nullopt, fresh / "projection");
  EXPECT_NE(live->body.find("\"digest\":\"" + replayed.digest + "\""), std::string::npos)
      << live->body << " vs " << replayed.digest;
}

// Cairn's own additions: DDM status items are inventory filters, and sets are given by filter.
TEST_F(Declarative, StatusItemsFilterDevicesAndSetsAreGivenByFilter) {
  devsim::DeviceConnection enrollment(endpoint, device.identity());
  ASSERT_EQ(enrollment.checkin(device.authenticate())->status, 200);
  ASSERT_EQ(enrollment.checkin(device.token_update())->status, 200);
  EXPECT_EQ(put("/v1/declarations", kPasscode), 204);
  EXPECT_EQ(put("/v1/declarations", kActivation), 204);
  EXPECT_EQ(put("/v1/set-declarations/staff?declaration=com.example.activation"), 204);

  // Every device, then only those a status item describes; what is not a filter is a 400.
  EXPECT_EQ(put("/v1/enrollment-sets?set=staff"), 400);
  EXPECT_NE(last_body.find("all=true"), std::string::npos) << last_body;
  EXPECT_EQ(put("/v1/enrollment-sets?set=staff&colour=red"), 400);
  EXPECT_NE(last_body.find("unknown filter colour"), std::string::npos) << last_body;
  EXPECT_EQ(put("/v1/enrollment-sets?set=staff&all=true"), 200);
  EXPECT_EQ(last_body, R"({"set":"staff","matched":1,"changed":1,"synced":1})");
  EXPECT_EQ(get("/v1/enrollment-sets/DDM-DEVICE-1"), R"(["staff"])");
  auto synced = session();
  EXPECT_EQ(synced.error, "");
  EXPECT_TRUE(synced.reported);

  EXPECT_NE(get("/api/v1/devices?status.passcode.is-compliant=false").find("DDM-DEVICE-1"),
            std::string::npos);
  EXPECT_EQ(get("/api/v1/devices?status.passcode.is-compliant=true").find("DDM-DEVICE-1"),
            std::string::npos);
  EXPECT_EQ(node.admin_get("/api/v1/devices?status.odd%2Fname=1")->status, 400);
  const std::string page = get("/api/v1/devices/DDM-DEVICE-1");
  EXPECT_NE(page.find(R"("status_items":{)"), std::string::npos) << page;
  EXPECT_NE(page.find(R"("passcode.is-compliant":{"value":false,)"), std::string::npos) << page;

  // Devices out of compliance get a remediation set, and sync it.
  EXPECT_EQ(put("/v1/declarations",
                R"({"Type":"com.apple.configuration.management.test","Identifier":"com.example.)"
                R"(remedy","Payload":{"Echo":"fix your passcode"}})"),
            204);
  EXPECT_EQ(put("/v1/declarations",
                R"({"Type":"com.apple.activation.simple","Identifier":"com.example.remediation",)"
                R"("Payload":{"StandardConfigurations":["com.example.remedy"]}})"),
            204);
  EXPECT_EQ(put("/v1/set-declarations/remediation?declaration=com.example.remediation"), 204);
  EXPECT_EQ(put("/v1/enrollment-sets?set=remediation&status.passcode.is-compliant=false"), 200);
  EXPECT_EQ(last_body, R"({"set":"remediation","matched":1,"changed":1,"synced":1})");
  EXPECT_EQ(put("/v1/enrollment-sets?set=remediation&status.passcode.is-compliant=false"), 200);
  EXPECT_EQ(last_body, R"({"set":"remediation","matched":1,"changed":0,"synced":0})");
  synced = session();
  EXPECT_EQ(synced.error, "");
  EXPECT_EQ(synced.declarations_fetched, 2) << "the remediation activation and its configuration";
  EXPECT_EQ(remove("/v1/enrollment-sets?set=remediation&status.passcode.is-compliant=false"), 200);
  EXPECT_EQ(last_body, R"({"set":"remediation","matched":1,"changed":1,"synced":1})");
  EXPECT_EQ(get("/v1/enrollment-sets/DDM-DEVICE-1"), R"(["staff"])");
}

}  // namespace
}  // namespace cairn::testing
