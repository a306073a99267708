#include "ade/enrollment_service.hpp"

#include "ade/machine_info.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"

namespace cairn::ade {

enrollment::Reply EnrollmentService::enroll(std::string_view machine_info,
                                            const std::string& remote,
                                            const std::string& host_url) {
  auto refuse = [&](int status, const std::string& reason) {
    enrollment::refuse_enrollment(writer_, "ade", status, reason, remote);
  };
  if (!device_ca_)
    throw Unavailable(
        "Automated Device Enrollment needs the device CA (--ade-device-ca) to check MachineInfo");
  MachineInfo info;
  try {
    info = read_machine_info(machine_info, &device_ca_->store());
  } catch (const BadRequest& e) {
    refuse(400, std::string("MachineInfo: ") + e.what());
  }
  if (const auto why = device_ca_->problem(info.signer.get()); !why.empty()) refuse(400, why);
  const auto device = writer_.find_caught_up([&] { return reader_.device(info.serial_number); });
  if (!device)
    refuse(403, "serial number " + info.serial_number +
                    " is not assigned to this MDM server in Apple Business Manager (or not synced "
                    "yet)");
  if (device->deleted)
    refuse(403, "serial number " + info.serial_number +
                    " was released from this MDM server in Apple Business Manager");
  if (device->held)
    refuse(403, "serial number " + info.serial_number +
                    " is held by an administrator (DELETE /v1/ade/devices/" + info.serial_number +
                    "/hold gives it back)");
  // The device identity that first enrolled a serial number is that device's: another one
  // signing for it is another device (or a stolen identity), unless an administrator vouches.
  if (!device->enrollment_signer.empty() && device->enrollment_signer != info.signer_fingerprint)
    refuse(403, "serial number " + info.serial_number +
                    " enrolled before with another device identity (a replaced logic board? PUT "
                    "then DELETE /v1/ade/devices/" +
                    info.serial_number + "/hold allows the new one)");
  enrollment::ProfileRequest request;
  request.host_url = host_url;
  const bool bound = may_take_over(info, *device);
  if (bound) request.udid = info.udid;
  const auto issued = [&] {
    try {
      return profiles_.issue(request, "ade");
    } catch (const ClientError& e) {
      logging::error("ADE enrollment cannot be answered", {{"error", e.what()}});
      throw Unavailable(std::string("enrollment is not ready on this server: ") + e.what());
    }
  }();
  writer_.append_and_wait_applied(
      {writer_.make("", "device",
                    events::AdeEnrollmentRequested{
                        info.serial_number, info.udid, info.product, info.os_version, device->token,
                        device->assigned_profile, info.signer_fingerprint, issued.uuid, bound})});
  logging::info("ADE enrollment",
                {{"serial", info.serial_number}, {"udid", info.udid}, {"remote", remote}});
  return {200, issued.signed_der, "application/x-apple-aspen-config"};
}

bool EnrollmentService::may_take_over(const MachineInfo& info,
                                      const projector::AdeDeviceRecord& device) const {
  const auto enrolled = devices_.device(DeviceId(info.udid));
  if (!enrolled || enrolled->state == projector::EnrollmentState::kCheckedOut) return true;
  return device.enrollment_udid == info.udid && device.enrollment_signer == info.signer_fingerprint;
}

}  // namespace cairn::ade
