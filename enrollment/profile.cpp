#include "enrollment/profile.hpp"

#include <cstring>
#include <set>

#include "common/errors.hpp"
#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"
#include "crypto/digest.hpp"
#include "protocol/access_rights.hpp"

namespace cairn::enrollment {
namespace {

constexpr const char* kTopicPrefix = "com.apple.mgmt.";
constexpr const char* kScepType = "com.apple.security.scep";
constexpr const char* kPkcs12Type = "com.apple.security.pkcs12";

bool is_https_url(const std::string& url) {
  return url.starts_with("https://") && url.size() > 8 && url[8] != '/';
}

// The keys every payload has.
Plist payload(const std::string& type, const std::string& identifier, const std::string& name) {
  Plist p = Plist::new_dict();
  p.set_string("PayloadType", type);
  p.set_integer("PayloadVersion", 1);
  p.set_string("PayloadIdentifier", identifier);
  p.set_string("PayloadUUID", crypto::uuid_v4());
  p.set_string("PayloadDisplayName", name);
  return p;
}

Plist string_array(std::initializer_list<std::string> items) {
  Plist a = Plist::new_array();
  for (const auto& s : items) a.append(Plist::adopt(plist_new_string(s.c_str())));
  return a;
}

Plist trust_payload(const std::string& der, const std::string& identifier) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) throw BadRequest("a trust certificate is not DER X.509");
  const bool root = X509_check_issued(cert.get(), cert.get()) == X509_V_OK;
  Plist t = payload(root ? "com.apple.security.root" : "com.apple.security.pkcs1", identifier,
                    crypto::certificate_subject(cert.get()));
  t.set_data("PayloadContent", der);
  return t;
}

Plist identity_payload(const ProfileSpec& spec) {
  const std::string identifier = spec.identifier + ".identity";
  if (const auto* scep = std::get_if<ScepIdentity>(&spec.identity)) {
    Plist p = payload(kScepType, identifier, "Device identity (SCEP)");
    Plist content = Plist::new_dict();
    content.set_string("URL", scep->url);
    content.set_string("Name", spec.organization);
    // Subject: [[["CN", name]]], an array of RDNs of attribute pairs.
    Plist rdn = Plist::new_array();
    rdn.append(string_array({"CN", scep->subject_common_name}));
    Plist subject = Plist::new_array();
    subject.append(std::move(rdn));
    content.set("Subject", std::move(subject));
    content.set_string("Challenge", scep->challenge);
    content.set_integer("Keysize", scep->key_size);
    content.set_string("Key Type", "RSA");
    content.set_integer("Key Usage", 5);  // signing and encryption (SCEP replies are encrypted)
    if (!scep->ca_fingerprint.empty()) content.set_data("CAFingerprint", scep->ca_fingerprint);
    p.set("PayloadContent", std::move(content));
    return p;
  }
  const auto& p12 = std::get<Pkcs12Identity>(spec.identity);
  Plist p = payload(kPkcs12Type, identifier, "Device identity");
  p.set_data("PayloadContent", p12.der);  // <data>, not a base64 <string>: devices refuse that
  p.set_string("Password", p12.password);
  return p;
}

}  // namespace

void validate(const ProfileSpec& spec) {
  if (!is_https_url(spec.server_url))
    throw BadRequest("ServerURL must be an https URL: " + spec.server_url);
  if (!is_https_url(spec.check_in_url))
    throw BadRequest("CheckInURL must be an https URL: " + spec.check_in_url);
  if (!spec.topic.starts_with(kTopicPrefix) || spec.topic.size() == std::strlen(kTopicPrefix))
    throw BadRequest("Topic must start with com.apple.mgmt. (the push certificate's UID): " +
                     spec.topic);
  if (auto problem = protocol::access_rights_problem(spec.access_rights); !problem.empty())
    throw BadRequest(problem);
  if (spec.identifier.empty()) throw BadRequest("PayloadIdentifier must not be empty");
  if (const auto* scep = std::get_if<ScepIdentity>(&spec.identity)) {
    if (!scep->url.starts_with("https://") && !scep->url.starts_with("http://"))
      throw BadRequest("the SCEP URL must be http or https: " + scep->url);
    if (scep->challenge.empty()) throw BadRequest("the SCEP payload needs a challenge");
    if (scep->key_size != 2048 && scep->key_size != 4096)
      throw BadRequest("SCEP Keysize must be 2048 or 4096");
  } else {
    const auto& p12 = std::get<Pkcs12Identity>(spec.identity);
    if (p12.der.empty() || p12.password.empty())
      throw BadRequest("the PKCS#12 identity needs its container and password");
  }
}

Plist build_profile(const ProfileSpec& spec) {
  validate(spec);
  Plist content = Plist::new_array();
  for (size_t i = 0; i < spec.trust_certificates_der.size(); ++i)
    content.append(trust_payload(spec.trust_certificates_der[i],
                                 spec.identifier + ".trust." + std::to_string(i + 1)));
  Plist identity = identity_payload(spec);
  const std::string identity_uuid = *identity.string("PayloadUUID");
  content.append(std::move(identity));

  Plist mdm = payload("com.apple.mdm", spec.identifier + ".mdm", "Device management");
  mdm.set_string("IdentityCertificateUUID", identity_uuid);
  mdm.set_string("Topic", spec.topic);
  mdm.set_string("ServerURL", spec.server_url);
  mdm.set_string("CheckInURL", spec.check_in_url);
  mdm.set_integer("AccessRights", spec.access_rights);
  mdm.set_bool("SignMessage", spec.sign_message);
  mdm.set_bool("CheckOutWhenRemoved", spec.check_out_when_removed);
  mdm.set_bool("UseDevelopmentAPNS", spec.use_development_apns);
  // Macs escrow their bootstrap token only with a server that says it keeps them. (Not
  // com.apple.mdm.per-user-connections: the user channel is declined, see protocol/messages.)
  Plist capabilities = Plist::new_array();
  capabilities.append(Plist::adopt(plist_new_string("com.apple.mdm.bootstraptoken")));
  mdm.set("ServerCapabilities", std::move(capabilities));
  content.append(std::move(mdm));

  Plist profile = payload("Configuration", spec.identifier, spec.display_name);
  if (!spec.uuid.empty()) profile.set_string("PayloadUUID", spec.uuid);
  profile.set_string("PayloadOrganization", spec.organization);
  profile.set_string("PayloadDescription",
                     "Lets " + spec.organization + " manage this device with Cairn.");
  profile.set_bool("PayloadRemovalDisallowed", false);
  profile.set("PayloadContent", std::move(content));
  check_references(profile);
  return profile;
}

Plist build_profile_service(const std::string& url, const std::string& challenge,
                            const std::string& organization, const std::string& identifier) {
  Plist service = payload("Profile Service", identifier + ".profile-service",
                          organization + " device enrollment");
  service.set_string("PayloadOrganization", organization);
  service.set_string("PayloadDescription",
                     "Installs the profile that lets " + organization + " manage this device.");
  Plist content = Plist::new_dict();
  content.set_string("URL", url);
  Plist attributes = Plist::new_array();
  for (const char* a : {"UDID", "IMEI", "ICCID", "VERSION", "PRODUCT", "SERIAL"})
    attributes.append(Plist::adopt(plist_new_string(a)));
  content.set("DeviceAttributes", std::move(attributes));
  content.set_string("Challenge", challenge);
  service.set("PayloadContent", std::move(content));
  return service;
}

void check_references(const Plist& profile) {
  const auto content = profile.array("PayloadContent");
  if (!content) throw BadRequest("the profile has no PayloadContent array");
  std::set<std::string> identities;
  for (size_t i = 0; i < content->size(); ++i) {
    const Plist p = content->at(i);
    const auto type = p.string("PayloadType").value_or("");
    if (type == kScepType || type == kPkcs12Type)
      identities.insert(p.string("PayloadUUID").value_or(""));
  }
  for (size_t i = 0; i < content->size(); ++i) {
    const Plist p = content->at(i);
    if (p.string("PayloadType").value_or("") != "com.apple.mdm") continue;
    const auto ref = p.string("IdentityCertificateUUID").value_or("");
    if (!identities.contains(ref))
      throw BadRequest("IdentityCertificateUUID " + ref +
                       " does not name an identity payload of the profile");
  }
}

std::string sign_profile(const Plist& profile, const pki::Identity& signer,
                         const std::vector<X509*>& chain) {
  return crypto::sign_attached(profile.to_xml(), signer.cert.get(), signer.key.get(), chain);
}

}  // namespace cairn::enrollment
