// MachineInfo: what a device at first boot (Setup Assistant, Automated Device Enrollment) POSTs to
// its ADE profile's URL: a DER CMS SignedData around a plist of UDID, SERIAL, PRODUCT, VERSION,
// OS_VERSION (and optional fields), signed by the device's own identity, which Apple's device CA
// issued. Read as hostile bytes: bounded, BER depth checked before OpenSSL parses it.
#pragma once

#include <string>
#include <string_view>

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
};

// Largest MachineInfo read: a signed plist of a few fields and a certificate chain is ~4 KiB.
inline constexpr size_t kLargestMachineInfo = 64 * 1024;

// The signed MachineInfo's fields. The signature must verify and, when `device_ca` is given, the
// signer chain to it (Apple's device CA's chain is old: give its certificates as they are; time is
// not checked for that store's chain, see docs/ade.md). Throws BadRequest naming the problem: not
// CMS, a bad signature, an unknown signer, no valid UDID or serial number.
MachineInfo read_machine_info(std::string_view signed_der, const crypto::TrustStore* device_ca);

}  // namespace cairn::ade
