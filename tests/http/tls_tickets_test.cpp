#include "http/tls_tickets.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "crypto/openssl_handles.hpp"
#include "pki/issuer.hpp"

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

// A TLS 1.3 handshake in memory between a client offering `resume` (or nothing) and `server`;
// returns whether it resumed, and the ticket the server then sent in `issued`.
bool handshake(SSL_CTX& client_ctx, SSL_CTX& server_ctx, SSL_SESSION* resume,
               SSL_SESSION*& issued) {
  SSL* client = SSL_new(&client_ctx);
  SSL* server = SSL_new(&server_ctx);
  BIO *client_end = nullptr, *server_end = nullptr;
  BIO_new_bio_pair(&client_end, 0, &server_end, 0);
  SSL_set_bio(client, client_end, client_end);
  SSL_set_bio(server, server_end, server_end);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  if (resume) SSL_set_session(client, resume);
  for (int i = 0; i < 20 && (!SSL_is_init_finished(client) || !SSL_is_init_finished(server)); ++i) {
    SSL_do_handshake(client);
    SSL_do_handshake(server);
  }
  EXPECT_TRUE(SSL_is_init_finished(client) && SSL_is_init_finished(server));
  const bool resumed = SSL_session_reused(server);
  char byte = 'x';  // the client reads the ticket that precedes it
  SSL_write(server, &byte, 1);
  SSL_read(client, &byte, 1);
  issued = SSL_get1_session(client);
  SSL_shutdown(client);
  SSL_shutdown(server);
  SSL_free(client);
  SSL_free(server);
  return resumed;
}

// However often a client resumes, it does so for one window after its last full handshake: the
// certificate checks a full handshake makes are never more than an hour old.
TEST_F(TlsTicketKeysTest, ResumingRenewsTheTicketButNotTheVerificationBehindIt) {
  const auto ca = pki::make_ca("tickets test CA", 1);
  const auto server_id =
      pki::issue_certificate(ca, "127.0.0.1", pki::CertUsage::kServer, {"127.0.0.1"}, 1);
  const crypto::SslCtxPtr server(SSL_CTX_new(TLS_server_method())),
      client(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_use_certificate(server.get(), server_id.cert.get());
  SSL_CTX_use_PrivateKey(server.get(), server_id.key.get());
  SSL_CTX_set_min_proto_version(server.get(), TLS1_3_VERSION);
  // The client takes tickets (a TLS 1.3 client ignores them without a cache mode) but keeps them
  // only in the sessions it is handed.
  SSL_CTX_set_session_cache_mode(client.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  const unsigned char context[] = "test";
  SSL_CTX_set_session_id_context(server.get(), context, 4);
  const auto k = keys(secret_, "cas");
  k.install(*server);
  SSL_SESSION* ticket = nullptr;
  EXPECT_FALSE(handshake(*client, *server, nullptr, ticket));
  for (int step = 1; step <= 3; ++step) {  // resumes at +20, +40 and +60 minutes
    now_ += std::chrono::minutes(20);
    SSL_SESSION* next = nullptr;
    EXPECT_TRUE(handshake(*client, *server, ticket, next)) << step;
    SSL_SESSION_free(std::exchange(ticket, next));
  }
  now_ += std::chrono::minutes(1);  // a fresh ticket, but 61 minutes after the full handshake
  SSL_SESSION* next = nullptr;
  EXPECT_FALSE(handshake(*client, *server, ticket, next));
  SSL_SESSION_free(std::exchange(ticket, next));
  now_ += std::chrono::minutes(1);  // and that full handshake starts the hour again
  EXPECT_TRUE(handshake(*client, *server, ticket, next));
  SSL_SESSION_free(ticket);
  SSL_SESSION_free(next);
}

TEST_F(TlsTicketKeysTest, ASecretTooShortIsRefused) {
  EXPECT_THROW(keys(std::string(16, 'k'), "cas"), std::invalid_argument);
}

}  // namespace
}  // namespace cairn::http
