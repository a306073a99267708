// End to end: a returning device resumes its TLS session (a ticket from the node) and is still
// served as itself; the ticket opens after a restart and on another node of the deployment (keys
// from the keyring, not from the process); a ticket that names no key the node has gives a full
// handshake, never a refusal.
#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include <algorithm>
#include <filesystem>

#include "devsim/connection.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

class TlsResumption : public ::testing::Test {
 protected:
  TlsResumption() : node_(dir_.path()), device_(node_, "RESUMING-1") {}

  devsim::Endpoint endpoint_of(const TestNode& node) const {
    devsim::Endpoint e;
    e.port = node.port();
    return e;
  }
  // One connection (a device session): Authenticate and TokenUpdate the first time, Idle after.
  int session(const TestNode& node) {
    const auto endpoint = endpoint_of(node);
    devsim::DeviceConnection connection(endpoint, device_.identity(), &tls_);
    if (!enrolled_) {
      enrolled_ = true;
      const auto r = connection.checkin(authenticate_body(device_.udid()));
      if (!r || r->status != 200) return r ? r->status : 0;
      const auto t = connection.checkin(token_update_body(device_.udid()));
      return t ? t->status : 0;
    }
    const auto r = connection.report(report_body(device_.udid(), "Idle"));
    return r ? r->status : 0;
  }
  int64_t resumed() const { return tls_.resumed_handshakes; }
  int64_t full() const { return tls_.new_handshakes; }

  TempDir dir_, other_dir_;  // the second for another node of the deployment
  TestNode node_;
  TestDevice device_;  // its identity only: its connections are devsim's
  devsim::TlsSession tls_;
  bool enrolled_ = false;
};

TEST_F(TlsResumption, AReturningDeviceResumesAndIsServedAsItself) {
  ASSERT_EQ(session(node_), 200);
  EXPECT_EQ(full(), 1);
  // Idle answered 200 with no command: the resumed session's certificate is the one the device
  // enrolled with (another would be refused).
  ASSERT_EQ(session(node_), 200);
  ASSERT_EQ(session(node_), 200);
  EXPECT_EQ(resumed(), 2);
  EXPECT_EQ(full(), 1);
  EXPECT_EQ(node_.metric("cairn_tls_handshakes_total{session=\"resumed\"}"), 2);
  EXPECT_GE(node_.metric("cairn_tls_handshakes_total{session=\"new\"}"), 1);
  const auto device = node_.admin_get("/v1/devices/" + device_.udid())->body;
  EXPECT_NE(device.find("\"enrollment_state\":\"enrolled\""), std::string::npos) << device;
}

TEST_F(TlsResumption, TicketsOpenAfterARestartAndOnAnotherNodeWithTheKeyring) {
  ASSERT_EQ(session(node_), 200);
  node_.restart();
  ASSERT_EQ(session(node_), 200);
  EXPECT_EQ(resumed(), 1) << "a ticket from before the restart did not open";
  // Another node of the deployment: the same PKI and keyring.
  const std::string other_dir = other_dir_.path();
  for (const char* shared : {"pki", "secrets"})
    std::filesystem::copy(node_.data_dir() + "/" + shared, other_dir + "/" + shared,
                          std::filesystem::copy_options::recursive);
  TestNode other(other_dir);
  // Answered as the device it is there: unknown (that node keeps its own log). Without an
  // identity it would be a 400.
  ASSERT_EQ(session(other), 401);
  EXPECT_EQ(resumed(), 2) << "another node holding the keyring did not open the ticket";
}

TEST_F(TlsResumption, ATicketNamingNoKnownKeyGivesAFullHandshake) {
  ASSERT_EQ(session(node_), 200);
  // The ticket's first 16 bytes name the key that sealed it; change one.
  SSL_SESSION* kept = tls_.get1();
  ASSERT_NE(kept, nullptr);
  const unsigned char* ticket = nullptr;
  size_t ticket_length = 0;
  SSL_SESSION_get0_ticket(kept, &ticket, &ticket_length);
  ASSERT_GT(ticket_length, 16u);
  std::basic_string<unsigned char> der(static_cast<size_t>(i2d_SSL_SESSION(kept, nullptr)), 0);
  auto* out = der.data();
  i2d_SSL_SESSION(kept, &out);
  const auto at = std::search(der.begin(), der.end(), ticket, ticket + ticket_length);
  ASSERT_NE(at, der.end());
  *at ^= 0x01;
  SSL_SESSION_free(kept);
  const unsigned char* in = der.data();
  tls_.keep(d2i_SSL_SESSION(nullptr, &in, static_cast<long>(der.size())));
  ASSERT_EQ(session(node_), 200);
  EXPECT_EQ(resumed(), 0);
  EXPECT_EQ(full(), 2);
  ASSERT_EQ(session(node_), 200);  // and the fresh ticket it was given resumes
  EXPECT_EQ(resumed(), 1);
}

}  // namespace
}  // namespace cairn::testing
