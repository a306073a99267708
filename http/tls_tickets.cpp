#include "http/tls_tickets.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "crypto/digest.hpp"

namespace cairn::http {
namespace {

int ex_data_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool set_mac_key(EVP_MAC_CTX* mac, std::string key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.data(), key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  const bool ok = EVP_MAC_CTX_set_params(mac, params) == 1;
  OPENSSL_cleanse(key.data(), key.size());
  return ok;
}

void wipe(TlsTicketKeys::Key& key) {
  OPENSSL_cleanse(key.cipher_key.data(), key.cipher_key.size());
  OPENSSL_cleanse(key.mac_key.data(), key.mac_key.size());
}

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// OpenSSL's ticket key callback: 1 = done, 2 = opened but issue a fresh ticket, 0 = unknown
// ticket (a full handshake follows), -1 = failure.
int seal_or_open(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                 EVP_MAC_CTX* mac, int seal) {
  const auto* keys =
      static_cast<const TlsTicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_data_index()));
  if (!keys) return -1;
  const EVP_CIPHER* aes = EVP_aes_256_cbc();
  if (seal) {
    auto key = keys->current();
    std::copy(key.name.begin(), key.name.end(), name);
    const bool ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) == 1 &&
                    EVP_EncryptInit_ex(cipher, aes, nullptr, bytes(key.cipher_key), iv) == 1 &&
                    set_mac_key(mac, key.mac_key);
    wipe(key);
    return ok ? 1 : -1;
  }
  unsigned char named[16];
  std::copy_n(name, 16, named);
  auto found = keys->find(named);
  if (!found) return 0;
  const bool ok = EVP_DecryptInit_ex(cipher, aes, nullptr, bytes(found->key.cipher_key), iv) == 1 &&
                  set_mac_key(mac, found->key.mac_key);
  wipe(found->key);
  if (!ok) return -1;
  // A TLS 1.3 ticket is used once (RFC 8446 8.1; OpenSSL's client will not offer it again), so
  // each resumption gets a fresh one; under 1.2 only a ticket of the previous window is replaced.
  return found->renew || SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
}

// When a session's client was last verified by a full handshake, carried in every ticket of the
// session: a resumption renews the ticket, never the verification behind it.
int on_ticket_issued(SSL* ssl, void* arg) {
  SSL_SESSION* session = SSL_get_session(ssl);
  void* data = nullptr;
  size_t length = 0;
  if (SSL_session_reused(ssl) && SSL_SESSION_get0_ticket_appdata(session, &data, &length) == 1 &&
      length == sizeof(int64_t))
    return 1;  // keeps its first handshake's time
  const int64_t verified_at = static_cast<const TlsTicketKeys*>(arg)->now_seconds();
  return SSL_SESSION_set1_ticket_appdata(session, &verified_at, sizeof verified_at);
}

// A ticket opens a session only within kWindow of that verification; else a full handshake.
SSL_TICKET_RETURN on_ticket_opened(SSL*, SSL_SESSION* session, const unsigned char*, size_t,
                                   SSL_TICKET_STATUS status, void* arg) {
  if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
    return SSL_TICKET_RETURN_IGNORE_RENEW;
  void* data = nullptr;
  size_t length = 0;
  int64_t verified_at = 0;
  if (SSL_SESSION_get0_ticket_appdata(session, &data, &length) != 1 || length != sizeof verified_at)
    return SSL_TICKET_RETURN_IGNORE_RENEW;
  std::memcpy(&verified_at, data, sizeof verified_at);
  const int64_t age = static_cast<const TlsTicketKeys*>(arg)->now_seconds() - verified_at;
  if (age < 0 || age > TlsTicketKeys::kWindow.count()) return SSL_TICKET_RETURN_IGNORE_RENEW;
  return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
}

}  // namespace

TlsTicketKeys::TlsTicketKeys(std::string secret, std::string_view context, Clock clock)
    : secret_(crypto::hmac_sha256(secret, "cairn-tls-tickets-v1\n" + std::string(context))),
      clock_(std::move(clock)) {
  if (secret.size() < 32) throw std::invalid_argument("TLS ticket secret shorter than 32 bytes");
  OPENSSL_cleanse(secret.data(), secret.size());
}

TlsTicketKeys::~TlsTicketKeys() {
  OPENSSL_cleanse(secret_.data(), secret_.size());
  for (auto& [window, key] : keys_) wipe(key);
}

int64_t TlsTicketKeys::now_seconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
}

int64_t TlsTicketKeys::window_now() const {
  return now_seconds() / kWindow.count();
}

const TlsTicketKeys::Key& TlsTicketKeys::key_of(int64_t window, int64_t now) const {
  if (auto it = keys_.find(window); it != keys_.end()) return it->second;
  std::string material = crypto::hmac_sha256(secret_, std::to_string(window));
  Key key;
  const std::string name = crypto::hmac_sha256(material, "name");
  std::copy_n(name.begin(), key.name.size(), key.name.begin());
  key.cipher_key = crypto::hmac_sha256(material, "cipher");
  key.mac_key = crypto::hmac_sha256(material, "mac");
  OPENSSL_cleanse(material.data(), material.size());
  // This window, the previous, and one a clock step left behind: the farthest from now goes.
  while (keys_.size() >= 3) {
    auto farthest = std::max_element(keys_.begin(), keys_.end(), [now](auto& a, auto& b) {
      return std::abs(a.first - now) < std::abs(b.first - now);
    });
    wipe(farthest->second);
    keys_.erase(farthest);
  }
  return keys_.emplace(window, std::move(key)).first->second;
}

TlsTicketKeys::Key TlsTicketKeys::current() const {
  std::lock_guard lock(mutex_);
  const int64_t now = window_now();
  return key_of(now, now);
}

std::optional<TlsTicketKeys::Found> TlsTicketKeys::find(const unsigned char (&name)[16]) const {
  std::lock_guard lock(mutex_);
  const int64_t now = window_now();
  for (const int64_t window : {now, now - 1}) {
    const Key& key = key_of(window, now);
    if (CRYPTO_memcmp(key.name.data(), name, key.name.size()) == 0)
      return Found{key, window != now};
  }
  return std::nullopt;
}

void TlsTicketKeys::install(SSL_CTX& ctx) const {
  if (SSL_CTX_set_ex_data(&ctx, ex_data_index(), const_cast<TlsTicketKeys*>(this)) != 1 ||
      SSL_CTX_set_tlsext_ticket_key_evp_cb(&ctx, seal_or_open) != 1 ||
      SSL_CTX_set_session_ticket_cb(&ctx, on_ticket_issued, on_ticket_opened,
                                    const_cast<TlsTicketKeys*>(this)) != 1)
    throw std::runtime_error("cannot install the TLS ticket keys");
  SSL_CTX_set_timeout(&ctx, static_cast<long>(kWindow.count()));
  // One ticket per handshake (OpenSSL's default is two): a device holds one connection at a time.
  SSL_CTX_set_num_tickets(&ctx, 1);
}

}  // namespace cairn::http
