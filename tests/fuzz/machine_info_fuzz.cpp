// libFuzzer target: the signed MachineInfo a device at first boot POSTs to /ade/enroll, read as
// ade::read_machine_info does before anything is looked up or recorded. The first byte chooses:
// the rest is the body itself (CMS, almost never validly signed), or the rest is the plist, signed
// here so the MachineInfo reading is reached. A bad body is a BadRequest (400), never a crash or
// another exception; one that reads has a valid UDID and serial number.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ade/machine_info.hpp"
#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"
#include "pki/issuer.hpp"
#include "projector/ade.hpp"
#include "protocol/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  static const pki::Identity kDevice = pki::make_ca("cairn-fuzz-device", 1);
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const auto info = ade::read_machine_info(
        data[0] % 2 == 0 ? rest
                         : crypto::sign_attached(rest, kDevice.cert.get(), kDevice.key.get(), {}),
        nullptr);
    if (!protocol::is_valid_identifier(info.udid) ||
        !projector::is_serial_number(info.serial_number) || info.product.size() > 128)
      std::abort();
  } catch (const BadRequest&) {
  }
  return 0;
}
