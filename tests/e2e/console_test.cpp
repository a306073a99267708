// The web console in a real browser (Debian's headless Chromium, tests/support/browser) against a
// node with 100 simulated devices: each page loads and shows what the API holds, its forms send
// typed commands and cancel them, a bad key is refused, and what a device reports is shown as
// text, never run as code. With CAIRN_CONSOLE_SCREENSHOTS=DIR the screenshots in docs/console/
// are written there.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "devsim/fleet.hpp"
#include "pki/dev_pki.hpp"
#include "plist/plist.hpp"
#include "tests/support/browser.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

constexpr const char* kHostileName = R"(<img src=x onerror="window.pwned=1">)";

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(node_.upload_push_certificate("com.apple.mgmt.console")->status, 200);
    devsim::Endpoint endpoint;
    endpoint.port = node_.port();
    endpoint.server_ca_file = node_.ca_file();
    fleet_ = std::make_unique<devsim::Fleet>(std::vector{endpoint}, node_.ca(), 100, "CONSOLE",
                                             "com.apple.mgmt.console", devsim::Faults{}, 11);
    devsim::Stats stats;
    fleet_->enroll(8, stats);
    std::string ids;
    for (const auto& udid : fleet_->udids())
      ids += std::string(ids.empty() ? "" : ",") + '"' + udid + '"';
    const auto queued = node_.admin()->Post(
        "/api/v1/commands",
        R"({"request_type":"DeviceInformation","command_uuid":"FLEET-INFO","devices":[)" + ids +
            R"(],"Queries":["DeviceName","OSVersion","ProductName","SerialNumber"]})",
        "application/json");
    ASSERT_EQ(queued->status, 200) << queued->body;
    fleet_->drain(8, stats);
    ASSERT_EQ(stats.errors(), 0) << stats.json();
    enroll_hostile_device();
  }

  // A device (or whoever holds its identity) calling itself by markup.
  void enroll_hostile_device() {
    TestDevice d(node_, "HOSTILE-0001");
    d.enroll();
    ASSERT_EQ(node_.enqueue(d.udid(), command_body("HOSTILE-INFO", "DeviceInformation"))->status,
              200);
    const auto poll = d.report("Idle");
    ASSERT_EQ(poll->status, 200);
    Plist answers = Plist::new_dict();
    answers.set_string("DeviceName", kHostileName);
    answers.set_string("ProductName", "iPhone99,9");
    Plist result = Plist::new_dict();
    result.set("QueryResponses", std::move(answers));
    result.set_string("UDID", d.udid());
    result.set_string("Status", "Acknowledged");
    result.set_string("CommandUUID", "HOSTILE-INFO");
    ASSERT_EQ(d.put("/mdm", result.to_xml())->status, 200);
  }

  std::string url(const std::string& hash = "") const {
    return "https://127.0.0.1:" + std::to_string(node_.port()) + "/console/" + hash;
  }

  // Loads `hash` and waits until the page says it has rendered it.
  void open(Browser& b, const std::string& hash) {
    b.navigate(url(hash));
    ASSERT_TRUE(b.wait_for("document.body.dataset.loaded === " + quoted(hash)))
        << hash << ": " << b.evaluate("document.getElementById('main').innerText");
  }

  void log_in(Browser& b, const std::string& key) {
    b.navigate(url());
    ASSERT_TRUE(b.wait_for("document.getElementById('api-key')"));
    b.evaluate("document.getElementById('api-key').value = " + quoted(key) +
               "; document.getElementById('login').requestSubmit(); true");
  }

  static std::string quoted(const std::string& s) { return "'" + s + "'"; }

  int rows(Browser& b, const std::string& table) {
    return std::stoi(b.evaluate("document.querySelectorAll('#" + table + " tbody tr').length"));
  }

  // A screenshot where the README's come from (CAIRN_CONSOLE_SCREENSHOTS), or a scratch
  // directory; either way it must be a PNG of a page, not an empty frame.
  void screenshot(Browser& b, const std::string& name) {
    const char* dir = std::getenv("CAIRN_CONSOLE_SCREENSHOTS");
    const std::string path = (dir ? std::string(dir) : scratch_.path()) + "/" + name + ".png";
    b.screenshot(path);
    std::ifstream in(path, std::ios::binary);
    const std::string png((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n") << path;
    EXPECT_GT(png.size(), 20'000u) << path << " looks blank";
  }

  TempDir dir_;
  TempDir scratch_;
  TestNode node_{dir_.path()};
  std::unique_ptr<devsim::Fleet> fleet_;
};

TEST_F(ConsoleTest, FleetDevicePagesShowTheFleetAndDeviceTextStaysText) {
  Browser b(pki::dev_pki_paths(node_.data_dir()).server_cert());
  log_in(b, node_.api_key());
  ASSERT_TRUE(b.wait_for("document.body.dataset.loaded === '#/devices'"));
  ASSERT_TRUE(b.wait_for("document.querySelectorAll('#devices tbody tr').length === 100"));
  EXPECT_EQ(b.evaluate("document.querySelector('main a[href^=\"#/devices?\"]') !== null"), "true")
      << "101 devices: a next page";
  screenshot(b, "devices");

  // The model filter, through the form: only the device that said it is an iPhone99,9.
  b.evaluate(
      "document.querySelector('#filters input[name=model]').value = 'iPhone99,9';"
      "document.getElementById('filters').requestSubmit(); true");
  ASSERT_TRUE(b.wait_for("document.body.dataset.loaded === '#/devices?model=iPhone99%2C9'"));
  ASSERT_EQ(rows(b, "devices"), 1);
  EXPECT_EQ(b.evaluate("document.querySelector('#devices tbody td').innerText"),
            "\"HOSTILE-0001\"");

  open(b, "#/device/HOSTILE-0001");
  ASSERT_GT(rows(b, "inventory"), 0);
  EXPECT_EQ(b.evaluate("[...document.querySelectorAll('#inventory td')]"
                       ".some(td => td.textContent === " +
                       quoted(R"(<img src=x onerror=\"window.pwned=1\">)") + ")"),
            "true")
      << "the device's name is shown as the text it is";
  EXPECT_EQ(b.evaluate("document.querySelectorAll('main img').length"), "0");
  EXPECT_EQ(b.evaluate("window.pwned === undefined"), "true");
  EXPECT_EQ(b.evaluate("document.getElementById('finished').innerText.includes('HOSTILE-INFO')"),
            "true");
  EXPECT_GE(rows(b, "timeline"), 4) << "Authenticate, TokenUpdate, the command and its result";

  const std::string udid = fleet_->udids().front();
  open(b, "#/device/" + udid);
  EXPECT_EQ(b.evaluate("document.getElementById('inventory').innerText.includes('iPhone15,4')"),
            "true")
      << b.evaluate("location.href + ' ' + document.body.dataset.loaded");
  screenshot(b, "device");
  EXPECT_TRUE(b.page_errors().empty()) << b.page_errors().front();
}

TEST_F(ConsoleTest, SendsATypedCommandThenCancelsIt) {
  Browser b(pki::dev_pki_paths(node_.data_dir()).server_cert());
  log_in(b, node_.api_key());
  ASSERT_TRUE(b.wait_for("document.body.dataset.loaded === '#/devices'"));
  const std::string udid = fleet_->udids().back();

  open(b, "#/send?devices=" + udid + "&type=DeviceInformation");
  ASSERT_EQ(b.evaluate("document.querySelector('#send textarea[name=Queries]') !== null"), "true")
      << b.evaluate("document.getElementById('main').innerText");
  // A field that is not JSON is refused in the page; one of the wrong type by the server, which
  // names it.
  auto submit_queries = [&](const std::string& json) {
    b.evaluate("document.querySelector('#send textarea[name=Queries]').value = " + quoted(json) +
               "; document.getElementById('send-outcome').replaceChildren();"
               "document.getElementById('send').requestSubmit(); true");
    EXPECT_TRUE(b.wait_for("document.getElementById('send-outcome').innerText !== ''"));
    return b.evaluate("document.getElementById('send-outcome').innerText");
  };
  EXPECT_NE(submit_queries("[DeviceName").find("not valid JSON"), std::string::npos);
  EXPECT_NE(submit_queries("{\"a\": 1}").find("Queries"), std::string::npos);
  const auto sent = submit_queries("[\"DeviceName\", \"OSVersion\"]");
  ASSERT_NE(sent.find("queued on 1 device"), std::string::npos) << sent;
  screenshot(b, "send");
  const std::string uuid = b.evaluate("document.querySelector('#send-outcome a').innerText");
  const std::string command_uuid = uuid.substr(1, uuid.size() - 2);
  const auto status = node_.admin_get("/v1/commands/" + command_uuid)->body;
  EXPECT_NE(status.find("\"status\":\"pending\""), std::string::npos) << status;

  open(b, "#/command/" + command_uuid);
  b.evaluate("document.getElementById('cancel').click(); true");
  ASSERT_TRUE(
      b.wait_for("document.getElementById('cancel-outcome').innerText.includes('cancelled on 1')"));
  const auto after = node_.admin_get("/v1/commands/" + command_uuid)->body;
  EXPECT_NE(after.find("\"status\":\"cancelled\""), std::string::npos) << after;

  open(b, "#/commands?status=cancelled");
  EXPECT_EQ(b.evaluate("document.getElementById('commands').innerText.includes(" +
                       quoted(command_uuid) + ")"),
            "true");

  open(b, "#/certificates");
  EXPECT_EQ(b.evaluate("document.getElementById('push-certificates').innerText"
                       ".includes('com.apple.mgmt.console')"),
            "true");
  EXPECT_GE(rows(b, "server-certificates"), 1);
  screenshot(b, "certificates");
  EXPECT_TRUE(b.page_errors().empty()) << b.page_errors().front();
}

TEST(Console, AKeyThatIsRefusedStaysOnTheLoginPage) {
  TempDir dir;
  TestNode node(dir.path());
  Browser b(pki::dev_pki_paths(node.data_dir()).server_cert());
  b.navigate("https://127.0.0.1:" + std::to_string(node.port()) + "/console/");
  ASSERT_TRUE(b.wait_for("document.getElementById('api-key')"));
  b.evaluate(
      "document.getElementById('api-key').value = 'not-a-key';"
      "document.getElementById('login').requestSubmit(); true");
  ASSERT_TRUE(b.wait_for("document.getElementById('login-status').innerText !== ''"));
  EXPECT_NE(b.evaluate("document.getElementById('login-status').innerText").find("refused"),
            std::string::npos);
  EXPECT_EQ(b.evaluate("sessionStorage.getItem('cairn.apiKey')"), "null")
      << "a refused key is not kept";
}

// The files are public and fixed: a policy that lets only their own script run, and no way to
// name anything but them.
TEST(Console, ServesItsFilesWithAPolicyAndNothingElse) {
  TempDir dir;
  TestNode node(dir.path());
  auto client = node.admin();
  client->set_basic_auth("", "");
  const auto page = client->Get("/console/");
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("console.js"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(client->Get("/console")->status, 308);
  EXPECT_EQ(client->Get("/console/console.js")->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  for (const char* path : {"/console/%2e%2e%2fapi_keys", "/console/..%2Fapi_keys",
                           "/console/missing.js", "/console/index.html%00.js"})
    EXPECT_EQ(client->Get(path)->status, 404) << path;
}

}  // namespace
}  // namespace cairn::testing
