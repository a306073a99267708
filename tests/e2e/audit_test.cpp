// The audit trail end to end: a device's timeline through a node's API, and the `cairn audit`
// tool as an auditor runs it — verifying the untouched log, exporting a device's events and
// checking the export with only the public key, then naming the event in a log edited by hand.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/eventually.hpp"
#include "tests/support/log_file.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

using namespace std::chrono_literals;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string audit(const std::string& args, int& status) {
  return run_shell(std::string(CAIRN_BINARY) + " audit " + args + " 2>&1", status);
}

TEST(AuditTrail, ATimelineThroughTheApiAndAVerifiedLogThatNamesAHandEdit) {
  TempDir dir;
  TestNodeOptions options;
  options.audit_checkpoint_every = 200ms;
  auto node = std::make_unique<TestNode>(dir.path(), options);
  TestDevice a(*node, "AUDIT-A"), b(*node, "AUDIT-B");
  a.enroll();
  b.enroll();
  ASSERT_EQ(node->enqueue("AUDIT-A", command_body("AUDIT-CMD", "ProfileList"))->status, 200);
  ASSERT_EQ(command_uuid_of(a.report("Idle")), "AUDIT-CMD");
  ASSERT_EQ(a.report("Acknowledged", "AUDIT-CMD")->status, 200);

  // A's timeline: its own events, oldest first, each as the log holds it.
  std::string timeline;
  ASSERT_TRUE(eventually([&] {
    timeline = node->admin_get("/v1/devices/AUDIT-A/events")->body;
    return timeline.find(R"("type":"CommandReported")") != std::string::npos &&
           count(timeline, "\"offset\":") >= 6;
  })) << timeline;
  EXPECT_EQ(timeline.find("AUDIT-B"), std::string::npos);
  EXPECT_LT(timeline.find("DeviceAuthenticated"), timeline.find("CommandEnqueued"));
  EXPECT_LT(timeline.find("CommandEnqueued"), timeline.find("CommandDelivered"));
  EXPECT_NE(timeline.find(R"("actor":"tester")"), std::string::npos) << timeline;
  const auto results = node->admin_get("/v1/devices/AUDIT-A/events?type=CommandReported")->body;
  EXPECT_EQ(count(results, "\"offset\":"), 2u) << results;  // Idle, Acknowledged
  const auto page = node->admin_get("/v1/devices/AUDIT-A/events?limit=2")->body;
  EXPECT_EQ(count(page, "\"offset\":"), 2u);
  EXPECT_NE(page.find("\"next_after\""), std::string::npos);
  EXPECT_EQ(count(node->admin_get("/v1/devices/AUDIT-A/events?until=2000-01-01T00:00:00Z")->body,
                  "\"offset\":"),
            0u);
  EXPECT_EQ(node->admin_get("/v1/devices/AUDIT-A/events?since=yesterday")->status, 400);
  EXPECT_EQ(node->admin_get("/v1/devices/AUDIT-A/events?type=no%20such")->status, 400);
  EXPECT_EQ(node->admin_get("/v1/devices/bad%20id/events")->status, 400);

  // Everything read by the ledger and signed, then the node stops.
  ASSERT_TRUE(eventually([&] {
    const auto end = node->metric(R"(cairn_log_end_offset{partition="0"})");
    return node->metric(R"(cairn_audit_next_offset{partition="0"})") == end &&
           (std::this_thread::sleep_for(500ms),
            node->metric(R"(cairn_log_end_offset{partition="0"})") == end);
  }));
  node.reset();

  int status = -1;
  const auto intact = audit("verify --data-dir " + dir.path(), status);
  EXPECT_EQ(status, 0) << intact;
  // The one record after the last checkpoint is that checkpoint: an idle log is not signed again.
  EXPECT_NE(intact.find("checkpoint 1: intact"), std::string::npos) << intact;
  const auto key = audit("public-key --data-dir " + dir.path(), status);
  ASSERT_EQ(status, 0) << key;
  const std::string public_key = key.substr(0, key.find('\n'));
  ASSERT_EQ(public_key.size(), 64u) << key;
  const std::string export_file = dir.path() + "/a.jsonl";
  run_shell(std::string(CAIRN_BINARY) + " audit export --data-dir " + dir.path() +
                " --device AUDIT-A > " + export_file,
            status);
  ASSERT_EQ(status, 0);
  const auto checked =
      audit("verify --export " + export_file + " --public-key " + public_key, status);
  EXPECT_EQ(status, 0) << checked;
  EXPECT_NE(checked.find(": intact"), std::string::npos) << checked;

  // A's Acknowledged result turned into an Error by hand, CRC and all.
  std::string edited_id;
  {
    LogFile file(dir.path() + "/log/events.log");
    for (auto& r : file.records)
      if (r.type == "CommandReported" && r.value.find("\"Acknowledged\"") != std::string::npos) {
        r.value.replace(r.value.find("\"Acknowledged\""), 14, "\"Error\"");
        edited_id = events::decode(r.value).id;
      }
    ASSERT_FALSE(edited_id.empty());
    file.save();
  }
  const auto caught = audit("verify --data-dir " + dir.path(), status);
  EXPECT_EQ(status, 1) << caught;
  EXPECT_NE(caught.find("event " + edited_id + ": changed"), std::string::npos) << caught;
  // An export made after the edit does not pass either: its proof leads to another root.
  run_shell(std::string(CAIRN_BINARY) + " audit export --data-dir " + dir.path() +
                " --device AUDIT-A > " + export_file,
            status);
  const auto caught_in_export =
      audit("verify --export " + export_file + " --public-key " + public_key, status);
  EXPECT_EQ(status, 1) << caught_in_export;
  EXPECT_NE(caught_in_export.find("event " + edited_id + ": changed"), std::string::npos)
      << caught_in_export;
}

}  // namespace
}  // namespace cairn::testing
