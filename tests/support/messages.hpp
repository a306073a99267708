// Builders for the plists a device sends, and a CMS signer for Mdm-Signature headers.
#pragma once

#include <openssl/evp.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "common/encoding.hpp"
#include "crypto/cms_signature.hpp"
#include "plist/plist.hpp"
#include "protocol/command_json.hpp"
#include "tests/support/command_samples.hpp"

namespace cairn::testing {

struct Field {
  const char* key;
  std::string value;
  bool is_data = false;
};

inline std::string plist_xml(std::initializer_list<Field> fields) {
  Plist p = Plist::new_dict();
  for (const auto& f : fields)
    f.is_data ? p.set_data(f.key, f.value) : p.set_string(f.key, f.value);
  return p.to_xml();
}

inline std::string authenticate_body(const std::string& udid,
                                     const std::string& topic = "com.apple.mgmt.test") {
  return plist_xml({{"MessageType", "Authenticate"}, {"Topic", topic}, {"UDID", udid}});
}

// A device's 32-byte push token: distinct per UDID (of up to 32 characters), so pushes can be
// told apart.
inline std::string push_token_of(const std::string& udid) {
  std::string token = udid.substr(0, 32);
  token.resize(32, '\x42');
  return token;
}
inline std::string token_hex_of(const std::string& udid) {
  return hex_encode(push_token_of(udid));
}

inline std::string token_update_body(const std::string& udid, const std::string& unlock_token = "",
                                     const std::string& topic = "com.apple.mgmt.test") {
  Plist p = Plist::new_dict();
  p.set_string("MessageType", "TokenUpdate");
  p.set_string("Topic", topic);
  p.set_string("UDID", udid);
  p.set_data("Token", push_token_of(udid));
  p.set_string("PushMagic", "PUSH-MAGIC-" + udid);
  if (!unlock_token.empty()) p.set_data("UnlockToken", unlock_token);
  return p.to_xml();
}

inline std::string checkout_body(const std::string& udid) {
  return plist_xml({{"MessageType", "CheckOut"}, {"Topic", "com.apple.mgmt.test"}, {"UDID", udid}});
}

inline std::string report_body(const std::string& udid, const std::string& status,
                               const std::string& command_uuid = "") {
  if (command_uuid.empty()) return plist_xml({{"Status", status}, {"UDID", udid}});
  return plist_xml({{"Status", status}, {"UDID", udid}, {"CommandUUID", command_uuid}});
}

// A valid command of `request_type` (its required keys filled with samples).
inline std::string command_body(const std::string& uuid, const std::string& request_type) {
  const auto& catalog = protocol::CommandCatalog::builtin();
  const protocol::CommandSpec* spec = catalog.find(request_type);
  if (!spec) throw std::invalid_argument("no request type " + request_type);
  rapidjson::Document fields;
  fields.Parse(sample_command_json(*spec, /*all_keys=*/false).c_str());
  return protocol::command_from_json(catalog, *spec, fields, uuid, {"request_type"}).to_xml();
}

// Base64 DER of a detached CMS signature over `body`, as a device puts in Mdm-Signature.
inline std::string mdm_signature(std::string_view body, X509* cert, EVP_PKEY* key,
                                 const EVP_MD* digest) {
  return crypto::sign_mdm_signature(body, cert, key, digest);
}

}  // namespace cairn::testing
