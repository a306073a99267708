// schemas/openapi.yaml describes the whole HTTP API: every route the server serves is in it (and
// nothing else), and the JSON each admin endpoint answers (or takes) matches the schema it
// documents for that status — additional properties are not allowed there, so a field added to
// a response without its description fails here.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "tests/support/ade.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace cairn::testing {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

rapidjson::Value to_json(const YAML::Node& node, Allocator& a) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      rapidjson::Value object(rapidjson::kObjectType);
      for (const auto& entry : node)
        object.AddMember(rapidjson::Value(entry.first.as<std::string>().c_str(), a),
                         to_json(entry.second, a), a);
      return object;
    }
    case YAML::NodeType::Sequence: {
      rapidjson::Value array(rapidjson::kArrayType);
      for (const auto& item : node) array.PushBack(to_json(item, a), a);
      return array;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() != "!") {  // plain, not quoted: a YAML boolean or number stays one
        if (text == "true" || text == "false") return rapidjson::Value(text == "true");
        char* end = nullptr;
        const long long n = std::strtoll(text.c_str(), &end, 10);
        if (!text.empty() && *end == '\0') return rapidjson::Value(static_cast<int64_t>(n));
      }
      return rapidjson::Value(text.c_str(), a);
    }
    default:
      return rapidjson::Value(rapidjson::kNullType);
  }
}

class OpenApi : public ::testing::Test {
 protected:
  OpenApi() {
    const auto yaml = YAML::LoadFile(std::string(CAIRN_SCHEMAS_DIR) + "/openapi.yaml");
    rapidjson::Value root = to_json(yaml, doc_.GetAllocator());
    static_cast<rapidjson::Value&>(doc_).Swap(root);
  }

  // The component a "$ref" names, or `v` itself.
  const rapidjson::Value& resolved(const rapidjson::Value& v) const {
    if (!v.IsObject() || !v.HasMember("$ref")) return v;
    std::string ref = v["$ref"].GetString();
    const rapidjson::Value* at = &doc_;
    for (size_t start = 2; start <= ref.size();) {  // "#/components/…": names without '/'
      const size_t slash = std::min(ref.find('/', start), ref.size());
      at = &(*at)[ref.substr(start, slash - start).c_str()];
      start = slash + 1;
    }
    return *at;
  }

  // Checks `json` against a schema object of the document (its "$ref"s resolve in the
  // document's components).
  void expect_valid(const rapidjson::Value& schema, const std::string& json,
                    const std::string& what) {
    rapidjson::Document root;
    root.CopyFrom(schema, root.GetAllocator());
    rapidjson::Value components;
    components.CopyFrom(doc_["components"], root.GetAllocator());
    root.AddMember("components", components, root.GetAllocator());
    const rapidjson::SchemaDocument compiled(root);
    rapidjson::Document body;
    body.Parse(json.c_str());
    ASSERT_FALSE(body.HasParseError()) << what << ": " << json;
    rapidjson::SchemaValidator validator(compiled);
    if (!body.Accept(validator)) {
      rapidjson::StringBuffer at, keyword;
      validator.GetInvalidSchemaPointer().StringifyUriFragment(at);
      validator.GetInvalidDocumentPointer().StringifyUriFragment(keyword);
      ADD_FAILURE() << what << " does not match its description: schema " << at.GetString() << " ("
                    << validator.GetInvalidSchemaKeyword() << ") at " << keyword.GetString() << "\n"
                    << json;
    }
  }

  // `r` (an answer to `method` `path`) is a documented status, and a JSON body matches its schema.
  void expect_described(const char* method, const char* path, const httplib::Result& r) {
    ASSERT_TRUE(r) << path;
    const std::string what = std::string(method) + " " + path + " " + std::to_string(r->status);
    ASSERT_TRUE(doc_["paths"].HasMember(path)) << what;
    const auto& operation = doc_["paths"][path][method];
    const std::string status = std::to_string(r->status);
    ASSERT_TRUE(operation["responses"].HasMember(status.c_str())) << what << " is not described";
    const auto& response = resolved(operation["responses"][status.c_str()]);
    if (!r->get_header_value("Content-Type").starts_with("application/json")) return;
    ASSERT_TRUE(response.HasMember("content") && response["content"].HasMember("application/json"))
        << what << ": JSON answer not described";
    expect_valid(response["content"]["application/json"]["schema"], r->body, what);
  }

  rapidjson::Document doc_;
};

TEST_F(OpenApi, DescribesEveryServedRouteAndNothingElse) {
  TempDir dir;
  TestNode node(dir.path());
  std::set<std::string> served, described;
  for (const auto& route : node.served_routes()) {
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(c));
    served.insert(method + " " + route.path);
  }
  for (const auto& path : doc_["paths"].GetObject())
    for (const auto& op : path.value.GetObject())
      if (std::string m = op.name.GetString();
          m == "get" || m == "put" || m == "post" || m == "delete")
        described.insert(m + " " + path.name.GetString());
  EXPECT_GE(served.size(), 26u);
  for (const auto& r : served) EXPECT_TRUE(described.contains(r)) << r << " is not described";
  for (const auto& d : described) EXPECT_TRUE(served.contains(d)) << d << " is not served";
}

TEST_F(OpenApi, AdminAnswersMatchTheirDescriptions) {
  TempDir dir;
  TestNode node(dir.path());
  auto admin = node.admin();
  expect_described("put", "/v1/pushcert", node.upload_push_certificate("com.apple.mgmt.openapi"));
  expect_described("get", "/v1/pushcerts", admin->Get("/v1/pushcerts"));
  TestDevice d(node, "OAS-1");
  d.enroll();

  const std::string typed =
      R"({"request_type": "DeviceInformation", "Queries": ["OSVersion"], "devices": ["OAS-1", "NOBODY"]})";
  expect_valid(doc_["paths"]["/api/v1/commands"]["post"]["requestBody"]["content"]
                   ["application/json"]["schema"],
               typed, "the typed command request");
  expect_described("post", "/api/v1/commands",
                   admin->Post("/api/v1/commands", typed, "application/json"));
  expect_described(
      "post", "/api/v1/commands",
      admin->Post("/api/v1/commands", R"({"request_type": "Nope", "devices": ["OAS-1"]})",
                  "application/json"));
  const Plist command = Plist::parse(d.report("Idle")->body);
  const std::string uuid = *command.string("CommandUUID");
  Plist answers = Plist::new_dict();
  answers.set_string("OSVersion", "17.1");
  Plist result = Plist::new_dict();
  result.set("QueryResponses", std::move(answers));
  result.set_string("UDID", "OAS-1");
  result.set_string("Status", "Acknowledged");
  result.set_string("CommandUUID", uuid);
  ASSERT_EQ(d.put("/mdm", result.to_xml())->status, 200);
  // A user's channel on it, shown in the device's view and on its own.
  Plist user = Plist::new_dict();
  user.set_string("MessageType", "TokenUpdate");
  user.set_string("Topic", "com.apple.mgmt.test");
  user.set_string("UDID", "OAS-1");
  user.set_string("UserID", "OAS-USER");
  user.set_string("UserShortName", "ana");
  user.set_data("Token", std::string(32, 'u'));
  user.set_string("PushMagic", "USER-MAGIC");
  ASSERT_EQ(d.checkin(user.to_xml())->status, 200);
  expect_described("get", "/v1/devices/{id}", admin->Get("/v1/devices/OAS-1:OAS-USER"));

  // Declarative management: KMFDDM's routes, Cairn's own, and a device's report shown back.
  const auto put = [&](const std::string& path, const std::string& body = "") {
    return admin->Put(path, body, "application/json");
  };
  expect_described(
      "put", "/v1/declarations",
      put("/v1/declarations", R"({"Type":"com.apple.configuration.passcode.settings",)"
                              R"("Identifier":"oas.passcode","Payload":{"MinimumLength":6}})"));
  expect_described("put", "/v1/declarations", put("/v1/declarations", "{}"));
  expect_described("get", "/v1/declarations", admin->Get("/v1/declarations"));
  expect_described("get", "/v1/declarations/{id}", admin->Get("/v1/declarations/oas.passcode"));
  expect_described("put", "/v1/set-declarations/{set}",
                   put("/v1/set-declarations/oas?declaration=oas.passcode"));
  expect_described("put", "/v1/enrollment-sets", put("/v1/enrollment-sets?set=oas&all=true"));
  expect_described("put", "/v1/enrollment-sets", put("/v1/enrollment-sets?set=oas"));
  expect_described("get", "/v1/enrollment-sets/{id}", admin->Get("/v1/enrollment-sets/OAS-1"));
  Plist report = Plist::new_dict();
  report.set_string("MessageType", "DeclarativeManagement");
  report.set_string("UDID", "OAS-1");
  report.set_string("Endpoint", "status");
  report.set_data(
      "Data", R"({"StatusItems":{"passcode":{"is-compliant":true},"management":{"declarations":)"
              R"({"configurations":[{"identifier":"oas.passcode","server-token":"x",)"
              R"("active":false,"valid":"invalid","reasons":[{"code":"Error.X"}]}]}}},)"
              R"("Errors":[{"StatusItem":"device","Reasons":[{"Code":"Error.Y"}]}]})");
  ASSERT_EQ(d.checkin(report.to_xml())->status, 200);
  for (const char* path :
       {"/v1/declaration-status/{ids}", "/v1/status-errors/{ids}", "/v1/status-values/{ids}"}) {
    std::string url = path;
    url.replace(url.find("{ids}"), 5, "OAS-1");
    expect_described("get", path, admin->Get(url));
  }
  expect_described("get", "/v1/status-report/{id}", admin->Get("/v1/status-report/OAS-1"));
  expect_described("get", "/api/v1/devices",
                   admin->Get("/api/v1/devices?status.passcode.is-compliant=true"));

  expect_described("get", "/api/v1/devices/{id}", admin->Get("/api/v1/devices/OAS-1"));
  expect_described("get", "/api/v1/devices", admin->Get("/api/v1/devices?os_version=17.1"));
  expect_described("get", "/api/v1/devices", admin->Get("/api/v1/devices?colour=red"));
  expect_described("get", "/api/v1/catalog", admin->Get("/api/v1/catalog"));
  expect_described("get", "/v1/devices", admin->Get("/v1/devices?limit=1"));
  expect_described("get", "/v1/devices/{id}", admin->Get("/v1/devices/OAS-1"));
  expect_described("get", "/v1/devices/{id}", admin->Get("/v1/devices/NOPE"));
  expect_described("put", "/v1/enqueue/{ids}",
                   node.enqueue("OAS-1", command_body("RAW-1", "ProfileList")));
  expect_described("put", "/v1/enqueue/{ids}",
                   node.enqueue("OAS-1,NOBODY", command_body("RAW-2", "ProfileList"), "?nopush=1"));
  expect_described("put", "/v1/enqueue/{ids}",
                   node.enqueue("NOBODY", command_body("RAW-3", "ProfileList")));
  expect_described("get", "/v1/push/{ids}", admin->Get("/v1/push/OAS-1"));
  expect_described("get", "/v1/devices/{id}/commands", admin->Get("/v1/devices/OAS-1/commands"));
  expect_described("get", "/v1/devices/{id}/events",
                   admin->Get("/v1/devices/OAS-1/events?limit=2"));
  expect_described("get", "/v1/devices/{id}/events",
                   admin->Get("/v1/devices/OAS-1/events?since=never"));
  expect_described("get", "/v1/commands/{uuid}", admin->Get(("/v1/commands/" + uuid).c_str()));
  expect_described("get", "/v1/commands", admin->Get("/v1/commands?status=pending&limit=1"));
  expect_described("get", "/v1/commands", admin->Get("/v1/commands?status=nonsense"));
  expect_described("post", "/v1/commands/{uuid}/cancel",
                   admin->Post("/v1/commands/NEVER-SENT/cancel", "", "text/plain"));
  expect_described("get", "/v1/projection", admin->Get("/v1/projection"));
  expect_described("post", "/v1/enrollment/invitations",
                   admin->Post("/v1/enrollment/invitations?ttl_seconds=60", "", "text/plain"));
  expect_described("get", "/v1/certificates", admin->Get("/v1/certificates"));
  expect_described("post", "/v1/devices/{id}/reenrollment",
                   admin->Post("/v1/devices/OAS-1/reenrollment?hours=1", "", "text/plain"));
  expect_described("get", "/v1/enrollment/profile", admin->Get("/v1/enrollment/profile"));
  expect_described("get", "/metrics", admin->Get("/metrics"));
  expect_described("put", "/checkin", d.checkin(authenticate_body("OAS-1")));

  // Webhooks: a receiver refusing everything leaves dead letters to list and redeliver.
  WebhookReceiver receiver;
  receiver.set_mode(WebhookReceiver::Mode::kRefuse);
  expect_described("put", "/v1/webhooks/{name}",
                   put("/v1/webhooks/oas", R"({"url":")" + receiver.url() +
                                               R"(","topics":["mdm.Connect"],"secret":"x"})"));
  expect_described("put", "/v1/webhooks/{name}", put("/v1/webhooks/oas", R"({"url":"ftp://x"})"));
  expect_described("get", "/v1/webhooks", admin->Get("/v1/webhooks"));
  ASSERT_EQ(d.report("Idle")->status, 200);
  ASSERT_TRUE(eventually([&] { return receiver.attempts() > 0; }));
  ASSERT_TRUE(eventually([&] {
    return admin->Get("/v1/webhooks/oas/dead-letters")->body.find("event_id") != std::string::npos;
  }));
  expect_described("get", "/v1/webhooks/{name}/dead-letters",
                   admin->Get("/v1/webhooks/oas/dead-letters?limit=1"));
  expect_described("get", "/v1/webhooks/{name}/dead-letters",
                   admin->Get("/v1/webhooks/nope/dead-letters"));
  expect_described("post", "/v1/webhooks/{name}/redeliver",
                   admin->Post("/v1/webhooks/oas/redeliver", "", "application/json"));
  expect_described(
      "post", "/v1/webhooks/{name}/redeliver",
      admin->Post("/v1/webhooks/oas/redeliver", R"({"event_ids":["nope"]})", "application/json"));
  expect_described("delete", "/v1/webhooks/{name}", admin->Delete("/v1/webhooks/oas"));
}

// The ADE admin API's answers, against the ADE simulator.
TEST_F(OpenApi, AdeAnswersMatchTheirDescriptions) {
  TempDir files, dir;
  AdePki pki(files);
  ade_sim::AdeSimulator sim(pki.simulator_options());
  const auto serials = sim.add_devices(2, "OAS", "iPhone", "iPhone 15");
  TestNode node(dir.path(), pki.node_options(sim));
  auto admin = node.admin();
  expect_described("get", "/v1/ade/tokens/{name}/certificate",
                   admin->Get("/v1/ade/tokens/acme/certificate"));
  const auto cert = admin->Post("/v1/ade/tokens/acme/certificate");
  expect_described("post", "/v1/ade/tokens/{name}/certificate", cert);
  expect_described(
      "put", "/v1/ade/tokens/{name}",
      admin->Put("/v1/ade/tokens/acme", sim.token_file(cert->body), "application/pkcs7-mime"));
  expect_described("put", "/v1/ade/tokens/{name}",
                   admin->Put("/v1/ade/tokens/acme", "not a token", "application/pkcs7-mime"));
  expect_described(
      "put", "/v1/ade/profiles/{name}",
      admin->Put("/v1/ade/profiles/staff",
                 R"({"profile_name":"Staff","url":"https://mdm.example.com/ade/enroll"})",
                 "application/json"));
  expect_described("put", "/v1/ade/tokens/{name}/assignment",
                   admin->Put("/v1/ade/tokens/acme/assignment", R"({"default_profile":"staff"})",
                              "application/json"));
  expect_described("post", "/v1/ade/tokens/{name}/sync", admin->Post("/v1/ade/tokens/acme/sync"));
  ASSERT_TRUE(eventually([&] {
    return admin->Get("/v1/ade/devices/" + serials[1])->body.find("SUCCESS") != std::string::npos;
  }));
  expect_described("get", "/v1/ade/tokens", admin->Get("/v1/ade/tokens"));
  expect_described("get", "/v1/ade/profiles", admin->Get("/v1/ade/profiles"));
  expect_described("get", "/v1/ade/devices", admin->Get("/v1/ade/devices?limit=1"));
  expect_described("get", "/v1/ade/devices/{serial}", admin->Get("/v1/ade/devices/" + serials[0]));
  expect_described("get", "/v1/ade/devices/{serial}", admin->Get("/v1/ade/devices/NOSUCH1"));
  expect_described("put", "/v1/ade/devices/{serial}/hold",
                   admin->Put("/v1/ade/devices/" + serials[0] + "/hold"));
  expect_described("delete", "/v1/ade/devices/{serial}/hold",
                   admin->Delete("/v1/ade/devices/" + serials[0] + "/hold"));
  expect_described("put", "/v1/ade/devices/{serial}/hold", admin->Put("/v1/ade/devices/x-y/hold"));
}

}  // namespace
}  // namespace cairn::testing
