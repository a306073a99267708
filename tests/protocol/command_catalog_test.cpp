// The command catalog against Apple's own schemas: every command file loads, every request type
// can be built from JSON and reads back valid, and each kind of mistake is refused naming the
// field.
#include "protocol/command_catalog.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "common/encoding.hpp"
#include "protocol/command_json.hpp"
#include "tests/support/command_samples.hpp"

namespace cairn::protocol {
namespace {

const std::set<std::string, std::less<>> kReserved{"request_type", "devices"};
const auto& catalog = CommandCatalog::builtin;

rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

Plist build(std::string_view request_type, std::string_view json) {
  const CommandSpec* spec = catalog().find(request_type);
  EXPECT_NE(spec, nullptr) << request_type;
  return command_from_json(catalog(), *spec, parse_json(json), "CMD-1", kReserved);
}

// The field path of the InvalidCommand that building throws, or "" if it builds.
std::string refused_at(std::string_view request_type, std::string_view json) {
  try {
    build(request_type, json);
  } catch (const InvalidCommand& e) {
    return e.path();
  }
  return "";
}

TEST(CommandCatalog, LoadsEveryAppleCommandSchema) {
  const std::filesystem::path dir = std::string(CAIRN_APPLE_SCHEMAS) + "/mdm/commands";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    const auto type = YAML::LoadFile(entry.path().string())["payload"]["requesttype"];
    EXPECT_NE(catalog().find(type.as<std::string>()), nullptr) << entry.path();
  }
  EXPECT_EQ(files, 66u);
  EXPECT_EQ(catalog().commands().size(), files);
  EXPECT_GT(catalog().commands().size(), 23u);  // the 2011 reference's request types
  EXPECT_NE(catalog().source().find("b6202ca2"), std::string::npos);
  EXPECT_EQ(catalog().find("EraseDevice")->access_right, 8);
  EXPECT_EQ(catalog().find("DeviceLock")->access_right, 4);
  EXPECT_EQ(catalog().find("InstallApplication")->access_right, 4096);
  EXPECT_EQ(catalog().find("DeviceInformation")->access_right, 0);  // "Special Case"
  EXPECT_EQ(catalog().find("EraseDevice")->os.at("iOS").introduced, "4.0");
  EXPECT_FALSE(catalog().find("DeviceInformation")->response_keys.empty());
  EXPECT_EQ(access_right_label(8), "8 (AllowDeviceErase)");
}

TEST(CommandCatalog, EveryRequestTypeBuildsFromJsonAndReadsBackValid) {
  size_t built = 0;
  for (const auto& spec : catalog().commands()) {
    const std::string json = testing::sample_command_json(spec, /*all_keys=*/true);
    SCOPED_TRACE(spec.request_type + ": " + json);
    const Plist command = build(spec.request_type, json);
    const Plist reread = Plist::parse(command.to_xml());
    EXPECT_EQ(&catalog().validate(reread), &spec);
    const Plist body = *reread.dict("Command");
    EXPECT_EQ(body.string("RequestType"), spec.request_type);
    for (const auto& k : spec.keys) EXPECT_TRUE(body.has(k.name.c_str())) << k.name;
    ++built;
  }
  EXPECT_EQ(built, 66u);
}

TEST(CommandCatalog, JsonValuesKeepTheirPlistTypes) {
  const Plist settings = build("Settings", R"({"Settings": [
      {"Item": "Wallpaper", "Image": "aGVsbG8=", "Where": 2},
      {"Item": "DeviceName", "DeviceName": "Ana's iPad"}]})");
  const std::string xml = settings.to_xml();
  EXPECT_NE(xml.find("<integer>2</integer>"), std::string::npos) << xml;
  EXPECT_EQ(Plist::parse(xml).dict("Command")->array("Settings")->at(0).data("Image"), "hello");
  const Plist schedule = build("ScheduleOSUpdateScan", R"({"Force": true})");
  EXPECT_NE(schedule.to_xml().find("<true/>"), std::string::npos);
}

TEST(CommandCatalog, EachKindOfMistakeIsRefusedNamingTheField) {
  // Unknown key, at the top and nested.
  EXPECT_EQ(refused_at("EraseDevice", R"({"Bogus": 1})"), "Command.Bogus");
  EXPECT_EQ(refused_at("Settings", R"({"Settings": [{"Item": "DeviceName", "DeviceName": "x",
                                     "Extra": 1}]})"),
            "Command.Settings[0].Extra");
  // Missing required key.
  EXPECT_EQ(refused_at("InstallProfile", "{}"), "Command.Payload");
  EXPECT_EQ(refused_at("Settings", R"({"Settings": [{"Item": "Wallpaper", "Where": 1}]})"),
            "Command.Settings[0].Image");
  // Wrong type, including a fraction where an integer goes.
  EXPECT_EQ(refused_at("EraseDevice", R"({"PIN": 123456})"), "Command.PIN");
  EXPECT_EQ(refused_at("Settings", R"({"Settings": [{"Item": "Wallpaper", "Image": "",
                                     "Where": 1.5}]})"),
            "Command.Settings[0].Where");
  // A value outside the listed ones.
  EXPECT_EQ(refused_at("EraseDevice", R"({"ObliterationBehavior": "Sometimes"})"),
            "Command.ObliterationBehavior");
  EXPECT_EQ(refused_at("Settings", R"({"Settings": [{"Item": "Wallpaper", "Image": "",
                                     "Where": 7}]})"),
            "Command.Settings[0].Where");
  // Data that is not base64; an array item of no known kind.
  EXPECT_EQ(refused_at("InstallProfile", R"({"Payload": "not base64!"})"), "Command.Payload");
  EXPECT_EQ(refused_at("Settings", R"({"Settings": [{"Item": "Teleport"}]})"),
            "Command.Settings[0]");
  // Nesting deeper than a plist may be (free-form keys allow any depth).
  std::string deep = "1";
  for (int i = 0; i < 100; ++i) deep = R"({"a": )" + deep + "}";
  EXPECT_NE(refused_at("InstallApplication", R"({"Configuration": )" + deep + "}")
                .find("Command.Configuration.a.a"),
            std::string::npos);
  try {
    build("EraseDevice", R"({"ObliterationBehavior": "Sometimes"})");
  } catch (const InvalidCommand& e) {
    EXPECT_NE(std::string(e.what()).find("DoNotObliterate"), std::string::npos) << e.what();
  }
}

TEST(CommandCatalog, KeysEveryCommandMayCarryAreAccepted) {
  EXPECT_EQ(refused_at("DeviceLock", R"({"RequestRequiresNetworkTether": true})"), "");
  EXPECT_EQ(refused_at("DeviceLock", R"({"RequestRequiresNetworkTether": "yes"})"),
            "Command.RequestRequiresNetworkTether");
}

TEST(CommandCatalog, RawPlistsAreCheckedTheSameWay) {
  auto raw = [](const std::string& command) {
    return Plist::parse(
        "<plist><dict><key>CommandUUID</key><string>C1</string>"
        "<key>Command</key><dict>" +
        command + "</dict></dict></plist>");
  };
  EXPECT_EQ(catalog()
                .validate(raw("<key>RequestType</key><string>DeviceLock</string>"
                              "<key>PIN</key><string>123456</string>"))
                .request_type,
            "DeviceLock");
  auto path_of = [&](const std::string& command) {
    try {
      catalog().validate(raw(command));
    } catch (const InvalidCommand& e) {
      return e.path();
    }
    return std::string();
  };
  EXPECT_EQ(path_of("<key>RequestType</key><string>Teleport</string>"), "Command.RequestType");
  EXPECT_EQ(path_of("<key>RequestType</key><string>DeviceLock</string><key>Pin</key><string>1"
                    "</string>"),
            "Command.Pin");
  EXPECT_EQ(path_of("<key>RequestType</key><string>DeviceLock</string><key>PIN</key><integer>1"
                    "</integer>"),
            "Command.PIN");
}

}  // namespace
}  // namespace cairn::protocol
