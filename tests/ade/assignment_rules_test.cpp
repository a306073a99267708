// Which profile a device from Apple Business Manager gets.
#include "ade/assignment_rules.hpp"

#include <gtest/gtest.h>

#include "common/errors.hpp"

namespace cairn::ade {
namespace {

projector::AdeDeviceRecord device(std::string family, std::string model, std::string description) {
  projector::AdeDeviceRecord d;
  d.serial_number = "S1";
  d.device_family = std::move(family);
  d.model = std::move(model);
  d.description = std::move(description);
  return d;
}

TEST(AssignmentRules, TheFirstMatchingRuleElseTheDefault) {
  const auto rules =
      parse_rules(R"([{"profile":"lab","match":{"device_family":"iPad","description":"LAB *"}},)"
                  R"({"profile":"ipads","match":{"device_family":"iPad"}},)"
                  R"({"profile":"macs","match":{"model":"MacBook*"}}])");
  EXPECT_EQ(choose_profile(rules, "staff", device("iPad", "iPad Pro", "LAB 12")), "lab");
  EXPECT_EQ(choose_profile(rules, "staff", device("iPad", "iPad Pro", "Office")), "ipads");
  EXPECT_EQ(choose_profile(rules, "staff", device("Mac", "MacBook Air", "")), "macs");
  EXPECT_EQ(choose_profile(rules, "staff", device("iPhone", "iPhone 15", "")), "staff");
  EXPECT_EQ(choose_profile(rules, "", device("iPhone", "iPhone 15", "")), "") << "waits";
  EXPECT_EQ(choose_profile(rules, "staff", device("ipad", "", "")), "staff") << "case matters";
}

TEST(AssignmentRules, RefusesRulesNamingWhatIsWrong) {
  const auto why = [](const std::string& json) {
    try {
      parse_rules(json);
      return std::string("accepted");
    } catch (const BadRequest& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(why("{}"), "rules must be a JSON array");
  EXPECT_NE(why(R"([{"profile":"a/b","match":{"os":"iOS"}}])").find("rule 1: profile"),
            std::string::npos);
  EXPECT_NE(why(R"([{"profile":"a","match":{}}])").find("1 to 8 fields"), std::string::npos);
  EXPECT_NE(why(R"([{"profile":"a","match":{"serial":"x"}}])").find("no device field serial"),
            std::string::npos);
  EXPECT_NE(why(R"([{"profile":"a","match":{"os":1}}])").find("os must be a string"),
            std::string::npos);
  std::string many = "[";
  for (int i = 0; i < 101; ++i)
    many += std::string(i ? "," : "") + R"({"profile":"a","match":{"os":"x"}})";
  EXPECT_EQ(why(many + "]"), "at most 100 rules");
}

}  // namespace
}  // namespace cairn::ade
