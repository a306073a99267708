// MachineInfo: what a device at first boot (Setup Assistant, Automated Device Enrollment) POSTs to
// its ADE profile's URL: a DER CMS SignedData around a plist of UDID, SERIAL, PRODUCT, VERSION,
// OS_VERSION (and optional fields), signed by the device's own identity, which Apple's device CA
// issued. Read as hostile bytes: bounded, BER depth checked before OpenSSL parses it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crypto/certificate.hpp"

namespace cairn::ade {

struct MachineInfo {
  std::string udid;
  std::string serial_number;
  std::string product;
  std::string version;     // the build
  std::string os_version;  // iOS 17 and later
  std::string language;
  std::string signer_subject;
  std::string signer_fingerprint;
  crypto::X509Ptr signer;
};

// Largest MachineInfo read: a signed plist of a few fields and a certificate chain is ~4 KiB.
inline constexpr size_t kLargestMachineInfo = 64 * 1024;

// The signed MachineInfo's fields. The signature must verify and, when `device_ca` is given, the
// signer chain to it. Throws BadRequest naming the problem: not CMS, a bad signature, an unknown
// signer, no valid UDID or serial number.
MachineInfo read_machine_info(std::string_view signed_der, const crypto::TrustStore* device_ca);

// The CA whose device identities may sign MachineInfo: Apple's iPhone Device CA (its certificate,
// PEM; its 2014 expiry and SHA-1 are Apple's and not checked). A signer must be a leaf (not a CA)
// that one of the file's certificates issued itself: a file that also holds Apple's root does not
// make every certificate under that root a device.
class DeviceCa {
 public:
  explicit DeviceCa(std::string_view pem);
  const crypto::TrustStore& store() const { return store_; }
  // Why `signer` is not a device identity this CA issued, or empty.
  std::string problem(X509* signer) const;

 private:
  crypto::TrustStore store_;
  std::vector<crypto::X509Ptr> issuers_;
};

}  // namespace cairn::ade
