#include "ade/oauth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"

namespace cairn::ade::oauth {

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::map<std::string, std::string> protocol_parameters(const Credentials& c, std::string_view nonce,
                                                       int64_t timestamp) {
  return {{"oauth_consumer_key", c.consumer_key},  {"oauth_token", c.token},
          {"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", std::to_string(timestamp)},
          {"oauth_nonce", std::string(nonce)},     {"oauth_version", "1.0"}};
}

std::string signature_base_string(std::string_view method, std::string_view url,
                                  const std::map<std::string, std::string>& parameters) {
  std::vector<std::pair<std::string, std::string>> encoded;
  std::string_view base = url;
  if (const auto q = url.find('?'); q != std::string_view::npos) {
    base = url.substr(0, q);
    std::string_view query = url.substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const auto eq = pair.find('=');
      encoded.emplace_back(percent_encode(percent_decode(pair.substr(0, eq))),
                           eq == std::string_view::npos
                               ? std::string()
                               : percent_encode(percent_decode(pair.substr(eq + 1))));
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  for (const auto& [name, value] : parameters)
    if (name != "realm" && name != "oauth_signature")
      encoded.emplace_back(percent_encode(name), percent_encode(value));
  std::sort(encoded.begin(), encoded.end());
  std::string normalized;
  for (const auto& [name, value] : encoded)
    normalized += (normalized.empty() ? "" : "&") + name + "=" + value;
  // §3.4.1.2: the scheme and host in lower case (the ADE URLs are written so already).
  std::string upper(method);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper + "&" + percent_encode(base) + "&" + percent_encode(normalized);
}

std::string hmac_sha1_signature(std::string_view base_string, std::string_view consumer_secret,
                                std::string_view token_secret) {
  std::string key = percent_encode(consumer_secret) + "&" + percent_encode(token_secret);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(base_string.data()), base_string.size(), mac,
       &length);
  std::fill(key.begin(), key.end(), '\0');
  return base64_encode(std::string_view(reinterpret_cast<const char*>(mac), length));
}

std::string authorization_header(std::string_view method, std::string_view url,
                                 const Credentials& c) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto parameters = protocol_parameters(c, hex_encode(crypto::random_bytes(16)), now);
  parameters["oauth_signature"] = hmac_sha1_signature(
      signature_base_string(method, url, parameters), c.consumer_secret, c.token_secret);
  std::string header = "OAuth realm=\"ADM\"";
  for (const auto& [name, value] : parameters)
    header += ", " + name + "=\"" + percent_encode(value) + "\"";
  return header;
}

std::map<std::string, std::string> parse_authorization(std::string_view header) {
  constexpr std::string_view kScheme = "OAuth ";
  std::map<std::string, std::string> out;
  if (header.substr(0, kScheme.size()) != kScheme) return out;
  header.remove_prefix(kScheme.size());
  while (!header.empty()) {
    while (!header.empty() && (header.front() == ' ' || header.front() == ','))
      header.remove_prefix(1);
    const auto eq = header.find('=');
    if (eq == std::string_view::npos) break;
    std::string name(header.substr(0, eq));
    header.remove_prefix(eq + 1);
    if (header.empty() || header.front() != '"') return {};
    const auto close = header.find('"', 1);
    if (close == std::string_view::npos) return {};
    out[std::move(name)] = percent_decode(header.substr(1, close - 1));
    header.remove_prefix(close + 1);
  }
  return out;
}

}  // namespace cairn::ade::oauth
