#include "http/tls_tickets.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace cairn::http {
namespace {

using std::chrono::system_clock;

class TlsTicketKeysTest : public ::testing::Test {
 protected:
  TlsTicketKeys keys(const std::string& secret, const std::string& context) {
    return TlsTicketKeys(secret, context, [this] { return now_; });
  }
  static std::optional<TlsTicketKeys::Found> find(const TlsTicketKeys& keys,
                                                  const std::array<unsigned char, 16>& name) {
    unsigned char raw[16];
    std::copy(name.begin(), name.end(), raw);
    return keys.find(raw);
  }

  const std::string secret_ = std::string(32, 'k');
  system_clock::time_point now_ = system_clock::time_point(std::chrono::hours(500'000));
};

TEST_F(TlsTicketKeysTest, NodesWithTheKeyringAgreeAndOthersDoNot) {
  const auto a = keys(secret_, "cas");
  const auto b = keys(secret_, "cas");
  const auto sealed = a.current();
  const auto found = find(b, sealed.name);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->key.cipher_key, sealed.cipher_key);
  EXPECT_EQ(found->key.mac_key, sealed.mac_key);
  EXPECT_FALSE(found->renew);
  EXPECT_NE(sealed.cipher_key, sealed.mac_key);
  EXPECT_FALSE(find(keys(std::string(32, 'x'), "cas"), sealed.name)) << "another keyring";
  EXPECT_FALSE(find(keys(secret_, "other cas"), sealed.name)) << "other trusted device CAs";
}

TEST_F(TlsTicketKeysTest, AKeySealsForAWindowAndOpensForOneMore) {
  const auto k = keys(secret_, "cas");
  const auto first = k.current();
  now_ += TlsTicketKeys::kWindow;
  const auto second = k.current();
  EXPECT_NE(first.name, second.name);
  EXPECT_NE(first.cipher_key, second.cipher_key);
  const auto previous = find(k, first.name);
  ASSERT_TRUE(previous);
  EXPECT_TRUE(previous->renew) << "a ticket under last window's key is replaced";
  EXPECT_EQ(previous->key.cipher_key, first.cipher_key);
  now_ += TlsTicketKeys::kWindow;
  EXPECT_FALSE(find(k, first.name)) << "two windows old";
  EXPECT_TRUE(find(k, second.name));
}

TEST_F(TlsTicketKeysTest, ASecretTooShortIsRefused) {
  EXPECT_THROW(keys(std::string(16, 'k'), "cas"), std::invalid_argument);
}

}  // namespace
}  // namespace cairn::http
