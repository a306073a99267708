// The enrollment profile (.mobileconfig): what a device installs to be managed by Cairn.
//
// One Configuration profile, removable, with (in the order devices install them) the certificates
// the device must trust to reach the server (Apple: "include the root certificate and any
// intermediate certificates in the same profile that contains the MDM payload"), the device's
// identity (a SCEP payload by default: the key never leaves the device; or a PKCS#12 made by
// the server), and the com.apple.mdm payload pointing at that identity. Every PayloadUUID is
// fresh. Signed with CMS (DER) by the server's certificate so the device shows it as verified.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "pki/issuer.hpp"
#include "plist/plist.hpp"

namespace cairn::enrollment {

// The device makes its key and asks Cairn's SCEP server for a certificate.
struct ScepIdentity {
  std::string url;  // http(s)://host/scep
  std::string challenge;
  std::string subject_common_name = "Cairn device identity";
  int key_size = 2048;  // RSA; Apple's SCEP client also makes 1024, which Cairn refuses
  // CAFingerprint (raw SHA-1; Authority::scep_ca_fingerprint): the client then takes only the
  // chain to this CA from GetCACert. Empty: left out.
  std::string ca_fingerprint = {};
};

// The server made the key and certificate (pki::pkcs12_der); the password goes in the profile
// so the user is not asked for it, as Apple's OTA enrollment does.
struct Pkcs12Identity {
  std::string der;
  std::string password;
};

struct ProfileSpec {
  std::string server_url;    // https, the command channel (/mdm)
  std::string check_in_url;  // https, the check-in channel (/checkin)
  std::string topic;         // the push certificate's topic, com.apple.mgmt.…
  int64_t access_rights = 8191;
  bool sign_message = false;  // devices add Mdm-Signature (for TLS-terminating proxies)
  bool check_out_when_removed = true;
  bool use_development_apns = false;
  std::string organization = "Cairn";
  std::string identifier = "com.cairn.enrollment";  // PayloadIdentifier; payloads get suffixes
  std::string display_name = "Cairn MDM enrollment";
  std::string uuid;  // the profile's PayloadUUID; fresh when empty
  // DER certificates the device must trust to reach the server: roots become
  // com.apple.security.root payloads, intermediates com.apple.security.pkcs1.
  std::vector<std::string> trust_certificates_der;
  std::variant<ScepIdentity, Pkcs12Identity> identity;
};

// Throws BadRequest naming the first broken rule: https server URLs, a topic that starts with
// com.apple.mgmt., valid AccessRights, a usable identity.
void validate(const ProfileSpec& spec);

// The unsigned profile (validated first), with fresh UUIDs.
Plist build_profile(const ProfileSpec& spec);

// OTA enrollment's first answer: a Profile Service payload asking the device to POST its
// attributes (UDID, IMEI, ICCID, VERSION, PRODUCT, SERIAL) and `challenge`, signed, to `url`.
Plist build_profile_service(const std::string& url, const std::string& challenge,
                            const std::string& organization, const std::string& identifier);

// CMS SignedData (DER) of the profile's XML, signed by `signer` carrying `chain`.
std::string sign_profile(const Plist& profile, const pki::Identity& signer,
                         const std::vector<X509*>& chain);

// Checks a built profile's internal references (every IdentityCertificateUUID names a payload
// of the profile); throws BadRequest. build_profile runs it; exposed for profiles read back.
void check_references(const Plist& profile);

}  // namespace cairn::enrollment
