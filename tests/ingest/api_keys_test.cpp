#include "ingest/api_keys.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::ingest {
namespace {

std::string basic(const std::string& key) {
  return "Basic " + base64_encode("nanomdm:" + key);
}

TEST(ApiKeys, ARoleIsWhatTheFileSaysAndALineThatIsNotAKeyGrantsNothing) {
  testing::TempDir dir;
  const std::string reader = ApiKeys::create(dir.path(), "auditor", Role::kReader);
  {
    std::ofstream out(dir.path() + "/api_keys", std::ios::app);
    out << "root superuser " << crypto::sha256_hex("guess") << "\n";             // no such role
    out << "short admin " << crypto::sha256_hex("short").substr(0, 60) << "\n";  // not a hash
    out << "upper admin " << std::string(64, 'G') << "\n";                       // not hex
  }
  const ApiKeys keys(dir.path());
  const auto who = keys.authenticate(basic(reader));
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "auditor");
  EXPECT_TRUE(who->may(Role::kMetrics));
  EXPECT_TRUE(who->may(Role::kReader));
  EXPECT_FALSE(who->may(Role::kOperator));
  EXPECT_FALSE(keys.authenticate(basic("guess")));
  EXPECT_FALSE(keys.authenticate("Basic !!!"));
  EXPECT_FALSE(keys.authenticate("Bearer " + reader));
}

TEST(ApiKeys, NamesAreUsedOnceAndRevokingRemovesOnlyThatKey) {
  testing::TempDir dir;
  const std::string a = ApiKeys::create(dir.path(), "a", Role::kAdmin);
  const std::string b = ApiKeys::create(dir.path(), "b", Role::kOperator);
  EXPECT_THROW(ApiKeys::create(dir.path(), "a", Role::kReader), std::invalid_argument);
  EXPECT_THROW(ApiKeys::create(dir.path(), "two words", Role::kReader), std::invalid_argument);
  EXPECT_TRUE(ApiKeys::revoke(dir.path(), "a"));
  EXPECT_FALSE(ApiKeys::revoke(dir.path(), "a"));
  const ApiKeys keys(dir.path());
  EXPECT_FALSE(keys.authenticate(basic(a)));
  EXPECT_EQ(keys.authenticate(basic(b))->role, Role::kOperator);
}

TEST(ApiKeys, OnlyTheCommandsThatWipeLockOrUnenrollNeedAnAdmin) {
  for (const char* type : {"EraseDevice", "DeviceLock", "EnableLostMode", "ClearPasscode",
                           "ClearRestrictionsPassword", "RemoveProfile", "DeleteUser"})
    EXPECT_TRUE(needs_admin(type)) << type;
  for (const char* type : {"DeviceInformation", "InstallProfile", "DisableLostMode", "Settings"})
    EXPECT_FALSE(needs_admin(type)) << type;
  EXPECT_EQ(parse_role("operator"), Role::kOperator);
  EXPECT_FALSE(parse_role("root"));
  EXPECT_EQ(role_name(Role::kMetrics), "metrics");
}

}  // namespace
}  // namespace cairn::ingest
