// What a device does at first boot under Automated Device Enrollment, after Apple told it its
// profile's URL: it POSTs its MachineInfo, CMS-signed by its device identity (Apple's device CA
// issues those; devsim uses a CA the server is told to trust), gets the enrollment profile, and
// follows its SCEP payload to its MDM identity. Speaks only the standard protocol.
#pragma once

#include <string>

#include "devsim/connection.hpp"
#include "devsim/simulated_device.hpp"
#include "pki/issuer.hpp"

namespace cairn::devsim {

// The identity the device ends with. Throws std::runtime_error naming the step that failed (the
// server's refusal reason included).
pki::Identity first_boot(const Endpoint& endpoint, const std::string& enroll_path,
                         const SimulatedDevice& device, const pki::Identity& device_signer);

}  // namespace cairn::devsim
