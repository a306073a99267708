// The server token Apple Business (or School) Manager gives for an MDM server: the credentials of
// the ADE service API, in a file (`*_smime.p7m`) encrypted to the certificate the server made for
// it. docs/ade.md has the format; this reads it. Errors are exceptions (BadRequest naming what is
// wrong with the file), as in the other readers of outside bytes.
#pragma once

#include <string>
#include <string_view>

#include "pki/issuer.hpp"

namespace cairn::ade {

// The OAuth 1.0a credentials of one ADE service account. The secrets are wiped when it goes.
struct ServerToken {
  std::string consumer_key;
  std::string consumer_secret;
  std::string access_token;
  std::string access_secret;
  std::string access_token_expiry;  // RFC 3339, as Apple gives it; may be empty

  ServerToken() = default;
  ServerToken(const ServerToken&) = default;
  ServerToken& operator=(const ServerToken&) = default;
  ~ServerToken();
};

// Largest token file read: Apple's are a few KiB.
inline constexpr size_t kLargestTokenFile = 64 * 1024;

// Opens the token file with the token certificate's identity: S/MIME (MIME headers, then base64
// CMS EnvelopedData; DER alone is taken too), decrypted, then the JSON between the inner part's
// BEGIN/END MESSAGE markers. Throws BadRequest: not a token file, encrypted to another
// certificate, or a credential missing (named).
ServerToken open_server_token(std::string_view file, const pki::Identity& token_certificate);

// The credentials as JSON (Apple's names), the form Cairn seals, and back (throws BadRequest).
// The caller wipes the JSON when done (OPENSSL_cleanse).
std::string credentials_json(const ServerToken& token);
ServerToken read_credentials(std::string_view json);

// What the credentials and the token certificate's key are sealed to (crypto::SecretBox).
std::string credentials_sealing_context(std::string_view token_name);
std::string certificate_key_sealing_context(std::string_view token_name);

}  // namespace cairn::ade
