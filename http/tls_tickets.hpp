// TLS session tickets that every node of a deployment can open. A returning device resumes its
// TLS session instead of repeating the handshake (certificate chain, signatures, key exchange):
// most of the server's cost of a new connection.
//
// The ticket keys are not random per process (OpenSSL's default, which a restart or another node
// behind the load balancer cannot open) but derived from a secret every node holding the keyring
// shares, one key per hour: a ticket is sealed with the current hour's key and opened with it or
// the previous hour's (then replaced by a fresh one). Nothing is stored and nothing to rotate by
// hand. The keys are also bound to the client CA bundle, so changing which device CAs are trusted
// ends every session resumed from before (a resumed session is not verified again).
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::http {

class TlsTicketKeys {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // How long one key seals tickets; also how long after its last full handshake (certificate
  // chain verified) a client may resume a session, however often it resumes in between.
  static constexpr std::chrono::seconds kWindow{3600};

  struct Key {
    std::array<unsigned char, 16> name{};  // sent in the ticket, in the clear
    std::string cipher_key;                // AES-256-CBC
    std::string mac_key;                   // HMAC-SHA256
  };
  struct Found {
    Key key;
    bool renew = false;  // the previous window's: the client gets a ticket under the current one
  };

  // `secret`: 32 bytes from the keyring; `context`: what tickets are bound to (the client CAs).
  TlsTicketKeys(std::string secret, std::string_view context,
                Clock clock = std::chrono::system_clock::now);
  ~TlsTicketKeys();
  TlsTicketKeys(const TlsTicketKeys&) = delete;
  TlsTicketKeys& operator=(const TlsTicketKeys&) = delete;

  Key current() const;
  // The key a ticket names, if it is this window's or the previous one's.
  std::optional<Found> find(const unsigned char (&name)[16]) const;

  // Makes `ctx` seal and open its tickets with these keys and resume sessions for kWindow at most.
  // `ctx` must not outlive this object.
  void install(SSL_CTX& ctx) const;

  int64_t now_seconds() const;  // by the clock given

 private:
  int64_t window_now() const;
  const Key& key_of(int64_t window, int64_t now) const;  // with mutex_ held

  std::string secret_;  // HMAC(keyring secret, context)
  Clock clock_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, Key> keys_;  // by window; the last few only
};

}  // namespace cairn::http
