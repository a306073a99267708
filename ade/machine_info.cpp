#include "ade/machine_info.hpp"

#include <openssl/x509v3.h>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"
#include "plist/plist.hpp"
#include "projector/ade.hpp"
#include "protocol/messages.hpp"

namespace cairn::ade {

MachineInfo read_machine_info(std::string_view signed_der, const crypto::TrustStore* device_ca) {
  if (signed_der.size() > kLargestMachineInfo) throw BadRequest("MachineInfo is at most 64 KiB");
  auto signed_content = crypto::open_attached(signed_der, device_ca);
  const Plist info = Plist::parse(signed_content.content);
  MachineInfo m{info.string("UDID").value_or(""),
                info.string("SERIAL").value_or(""),
                info.string("PRODUCT").value_or(""),
                info.string("VERSION").value_or(""),
                info.string("OS_VERSION").value_or(""),
                info.string("LANGUAGE").value_or(""),
                crypto::certificate_subject(signed_content.signer.get()),
                crypto::certificate_fingerprint(signed_content.signer.get()),
                nullptr};
  if (!protocol::is_valid_identifier(m.udid)) throw BadRequest("MachineInfo has no valid UDID");
  if (!projector::is_serial_number(m.serial_number))
    throw BadRequest("MachineInfo has no valid SERIAL");
  for (auto* field : {&m.product, &m.version, &m.os_version, &m.language}) {
    if (!is_valid_utf8(*field)) throw BadRequest("MachineInfo has a field that is not UTF-8");
    *field = std::string(utf8_prefix(*field, 128));
  }
  m.signer = std::move(signed_content.signer);
  return m;
}

DeviceCa::DeviceCa(std::string_view pem)
    : store_(crypto::TrustStore::from_pem(pem, crypto::TrustStore::Validity::kIgnored)),
      issuers_(crypto::parse_certificates_pem(pem)) {}

std::string DeviceCa::problem(X509* signer) const {
  if (X509_check_ca(signer) != 0) return "the MachineInfo signer is a CA, not a device";
  for (const auto& issuer : issuers_)
    if (X509_check_issued(issuer.get(), signer) == X509_V_OK) return {};
  return "the MachineInfo signer was not issued by the device CA itself";
}

}  // namespace cairn::ade
