#include "ade/machine_info.hpp"

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"
#include "plist/plist.hpp"
#include "projector/ade.hpp"
#include "protocol/messages.hpp"

namespace cairn::ade {

MachineInfo read_machine_info(std::string_view signed_der, const crypto::TrustStore* device_ca) {
  if (signed_der.size() > kLargestMachineInfo) throw BadRequest("MachineInfo is at most 64 KiB");
  const auto signed_content = crypto::open_attached(signed_der, device_ca);
  const Plist info = Plist::parse(signed_content.content);
  MachineInfo m{info.string("UDID").value_or(""),
                info.string("SERIAL").value_or(""),
                info.string("PRODUCT").value_or(""),
                info.string("VERSION").value_or(""),
                info.string("OS_VERSION").value_or(""),
                info.string("LANGUAGE").value_or(""),
                crypto::certificate_subject(signed_content.signer.get()),
                crypto::certificate_fingerprint(signed_content.signer.get())};
  if (!protocol::is_valid_identifier(m.udid)) throw BadRequest("MachineInfo has no valid UDID");
  if (!projector::is_serial_number(m.serial_number))
    throw BadRequest("MachineInfo has no valid SERIAL");
  for (auto* field : {&m.product, &m.version, &m.os_version, &m.language}) {
    if (!is_valid_utf8(*field)) throw BadRequest("MachineInfo has a field that is not UTF-8");
    *field = std::string(utf8_prefix(*field, 128));
  }
  return m;
}

}  // namespace cairn::ade
