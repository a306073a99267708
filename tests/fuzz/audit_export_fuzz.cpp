// libFuzzer target: an audit export as an auditor receives it (audit/verify.hpp's
// verify_export), from anyone: any bytes give a report, never a crash, and no event is proven
// without a checkpoint the trusted key signed.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "audit/checkpoint.hpp"
#include "audit/verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  static const audit::Signer signer(crypto::SecretBox({std::string(32, '\x07')}));
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  const auto report = audit::verify_export(in, signer.public_keys());
  // Without a signed checkpoint nothing can have been checked.
  if (report.checkpoints_verified == 0 &&
      report.records > report.unsigned_records + report.findings.size())
    std::abort();
  return 0;
}
