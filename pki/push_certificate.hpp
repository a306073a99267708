// APNs push certificates as admins upload them (NanoMDM's /v1/pushcert body: the certificate and
// its private key as PEM, in one body) and as the dispatcher uses them.
#pragma once

#include <string>
#include <string_view>

#include "crypto/openssl_handles.hpp"

namespace cairn::pki {

struct PushCertificate {
  std::string topic;            // the subject's UID, com.apple.mgmt.…
  std::string certificate_pem;  // the leaf, then any intermediates from the upload
  crypto::PkeyPtr key;
  std::string not_after;  // RFC 3339
};

// Parses and checks an upload: a certificate with a UID (the topic), valid now, and the private
// key that belongs to it (PEM, clear). Throws BadRequest saying what is wrong.
PushCertificate parse_push_certificate(std::string_view pem_bundle);
// The same from a PKCS#12 file (what Keychain Access exports), opened with its password. Older
// files encrypted with RC2 or 3DES are read through OpenSSL's legacy provider.
PushCertificate parse_push_certificate_pkcs12(std::string_view der, const std::string& password);

// Admins are warned (API, logs) this many days before a push certificate expires: renewing one
// at Apple takes a person, and an expired one stops every push for its topic.
inline constexpr int kPushCertificateWarningDays = 30;

// What a push certificate's sealed private key is bound to (SecretBox associated data).
inline std::string push_certificate_sealing_context(std::string_view topic) {
  return "push-certificate:" + std::string(topic);
}

// Whole days until the certificate's notAfter (negative once expired).
int days_until_expiry(std::string_view certificate_pem);

}  // namespace cairn::pki
