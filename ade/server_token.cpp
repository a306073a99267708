#include "ade/server_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "pki/scep.hpp"

namespace cairn::ade {
namespace {

// The body of a MIME part: what follows its headers' blank line. Text without headers (it starts
// with what a body holds) is its own body.
std::string_view mime_body(std::string_view part) {
  for (const std::string_view blank : {"\r\n\r\n", "\n\n"})
    if (const auto at = part.find(blank); at != std::string_view::npos && part.find(':') < at)
      return part.substr(at + blank.size());
  return part;
}

std::string_view between_markers(std::string_view body) {
  constexpr std::string_view kBegin = "-----BEGIN MESSAGE-----";
  constexpr std::string_view kEnd = "-----END MESSAGE-----";
  const auto begin = body.find(kBegin);
  if (begin == std::string_view::npos) return body;
  body.remove_prefix(begin + kBegin.size());
  const auto end = body.find(kEnd);
  if (end == std::string_view::npos) throw BadRequest("the token has no END MESSAGE marker");
  return body.substr(0, end);
}

std::string required(const rapidjson::Document& d, const char* name) {
  const auto it = d.FindMember(name);
  if (it == d.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0)
    throw BadRequest(std::string("the token has no ") + name);
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

ServerToken::~ServerToken() {
  OPENSSL_cleanse(consumer_secret.data(), consumer_secret.size());
  OPENSSL_cleanse(access_secret.data(), access_secret.size());
}

ServerToken open_server_token(std::string_view file, const pki::Identity& token_certificate) {
  if (file.size() > kLargestTokenFile) throw BadRequest("a token file is at most 64 KiB");
  // DER starts with a SEQUENCE; anything else is the S/MIME text Apple sends.
  const std::string der =
      !file.empty() && file.front() == '\x30' ? std::string(file) : base64_decode(mime_body(file));
  auto plain = pki::scep::open_envelope(der, token_certificate);
  if (!plain)
    throw BadRequest(
        "not a token encrypted to this server's token certificate (download it again from Apple "
        "Business Manager after uploading this certificate)");
  std::string json(between_markers(mime_body(*plain)));
  OPENSSL_cleanse(plain->data(), plain->size());
  auto token = read_credentials(json);
  OPENSSL_cleanse(json.data(), json.size());
  return token;
}

ServerToken read_credentials(std::string_view json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) throw BadRequest("the token's content is not JSON");
  ServerToken token;
  token.consumer_key = required(d, "consumer_key");
  token.consumer_secret = required(d, "consumer_secret");
  token.access_token = required(d, "access_token");
  token.access_secret = required(d, "access_secret");
  const rapidjson::Value& root = d;  // const iterators on both sides of the comparison
  if (const auto expiry = root.FindMember("access_token_expiry");
      expiry != root.MemberEnd() && expiry->value.IsString())
    token.access_token_expiry = expiry->value.GetString();
  return token;
}

std::string credentials_json(const ServerToken& token) {
  JsonWriter j;
  j.begin_object()
      .field("consumer_key", token.consumer_key)
      .field("consumer_secret", token.consumer_secret)
      .field("access_token", token.access_token)
      .field("access_secret", token.access_secret)
      .field("access_token_expiry", token.access_token_expiry)
      .end_object();
  return j.str();
}

std::string credentials_sealing_context(std::string_view token_name) {
  return "ade-token:" + std::string(token_name);
}

std::string certificate_key_sealing_context(std::string_view token_name) {
  return "ade-token-key:" + std::string(token_name);
}

}  // namespace cairn::ade
