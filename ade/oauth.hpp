// OAuth 1.0a request signing (RFC 5849), as the ADE service's /session call needs it: HMAC-SHA1
// over the signature base string, in an `Authorization: OAuth realm="ADM", ...` header. The ADE
// simulator checks signatures with the same functions; the tests pin them to the specification's
// own example so both cannot be wrong together.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace cairn::ade::oauth {

// RFC 5849 §3.6: every byte but ALPHA / DIGIT / "-" / "." / "_" / "~" as %XX (upper-case hex).
std::string percent_encode(std::string_view s);

struct Credentials {
  std::string consumer_key;
  std::string consumer_secret;
  std::string token;
  std::string token_secret;
};

// The protocol parameters of one signed request (without oauth_signature).
std::map<std::string, std::string> protocol_parameters(const Credentials& c, std::string_view nonce,
                                                       int64_t timestamp);

// §3.4.1: METHOD&enc(base URL)&enc(sorted, encoded parameters). `url` may carry a query string,
// whose parameters are signed with `parameters`; the realm is never signed.
std::string signature_base_string(std::string_view method, std::string_view url,
                                  const std::map<std::string, std::string>& parameters);

// §3.4.2: base64(HMAC-SHA1(enc(consumer_secret)&enc(token_secret), base string)).
std::string hmac_sha1_signature(std::string_view base_string, std::string_view consumer_secret,
                                std::string_view token_secret);

// The Authorization header's value for `method url`, with a fresh nonce and the current time.
std::string authorization_header(std::string_view method, std::string_view url,
                                 const Credentials& c);

// A header's parameters (`OAuth realm="ADM", oauth_consumer_key="..."`), percent-decoded; empty
// when it is not an OAuth header.
std::map<std::string, std::string> parse_authorization(std::string_view header);

}  // namespace cairn::ade::oauth
