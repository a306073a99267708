#include "enrollment/ota_service.hpp"

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/cms_signature.hpp"
#include "crypto/digest.hpp"
#include "plist/plist.hpp"
#include "protocol/messages.hpp"

namespace cairn::enrollment {
namespace {

constexpr const char* kProfileType = "application/x-apple-aspen-config";

bool is_token(const std::string& token) {
  return token.size() == 32 && token.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

void refuse_enrollment(ingest::EventWriter& writer, const std::string& stage, int status,
                       const std::string& reason, const std::string& remote) {
  if (const auto repeated = writer.admit_refusal(remote)) {
    const std::string capped(utf8_prefix(reason, ingest::kMaxRecordedField));
    logging::warn("enrollment refused", {{"stage", stage},
                                         {"reason", capped},
                                         {"remote", remote},
                                         {"repeated", std::to_string(*repeated)}});
    writer.append({writer.make(
        "", stage, events::EnrollmentRefused{stage, capped, "", "", remote, *repeated})});
  }
  throw ClientError(status, reason);
}

OtaService::OtaService(ProfileService& profiles, const projector::ProjectionReader& reader,
                       ingest::EventWriter& writer,
                       std::shared_ptr<const crypto::TrustStore> device_ca, std::string public_url)
    : profiles_(profiles),
      reader_(reader),
      writer_(writer),
      device_ca_(std::move(device_ca)),
      public_url_(std::move(public_url)) {}

std::string OtaService::base_url(const std::string& host_url) const {
  return public_url_.empty() ? host_url : public_url_;
}

Invitation OtaService::invite(std::chrono::seconds ttl, const std::string& note,
                              const std::string& actor, const std::string& host_url) {
  if (ttl.count() <= 0 || ttl > std::chrono::days(30))
    throw BadRequest("an invitation lives from 1 second to 30 days");
  Invitation out;
  out.token = hex_encode(crypto::random_bytes(16));
  out.url = base_url(host_url) + "/enroll/" + out.token;
  out.expires_at = format_rfc3339(std::chrono::system_clock::now() + ttl);
  // Applied before the link is handed out, so the device's first request finds it here.
  writer_.append_and_wait_applied({writer_.make(
      "", actor, events::EnrollmentInvited{crypto::sha256_hex(out.token), out.expires_at, note})});
  return out;
}

void OtaService::refuse(int status, const std::string& reason, const std::string& remote) {
  refuse_enrollment(writer_, "ota", status, reason, remote);
}

void OtaService::require_usable(const std::string& token_sha256, const std::string& remote) {
  const auto invitation = writer_.find_caught_up([&] { return reader_.invitation(token_sha256); });
  if (!invitation) refuse(404, "no such enrollment invitation", remote);
  if (!invitation->used_by_udid.empty())
    refuse(410, "the enrollment invitation was already used", remote);
  const auto expires = parse_rfc3339(invitation->expires_at);
  if (!expires || *expires <= std::chrono::system_clock::now())
    refuse(410, "the enrollment invitation expired", remote);
}

Reply OtaService::profile_service(const std::string& token, const std::string& remote,
                                  const std::string& host_url) {
  if (!is_token(token)) refuse(404, "no such enrollment invitation", remote);
  require_usable(crypto::sha256_hex(token), remote);
  const ProfileSpec defaults;
  const Plist service = build_profile_service(base_url(host_url) + "/enroll/" + token, token,
                                              defaults.organization, defaults.identifier);
  return {200, profiles_.sign(service), kProfileType};
}

events::EnrollmentRequested read_device_attributes(std::string_view signed_attributes,
                                                   const crypto::TrustStore* device_ca,
                                                   const std::string& token) {
  const auto signed_content = crypto::open_attached(signed_attributes, device_ca);
  const Plist attributes = Plist::parse(signed_content.content);
  if (attributes.string("CHALLENGE").value_or("") != token)
    throw BadRequest("the CHALLENGE is not this invitation's");
  events::EnrollmentRequested requested{
      "",
      attributes.string("UDID").value_or(""),
      attributes.string("SERIAL").value_or(""),
      attributes.string("PRODUCT").value_or(""),
      attributes.string("VERSION").value_or(""),
      attributes.string("IMEI").value_or(""),
      crypto::certificate_subject(signed_content.signer.get()),
      crypto::certificate_fingerprint(signed_content.signer.get())};
  if (!protocol::is_valid_identifier(requested.udid)) throw BadRequest("no valid UDID");
  return requested;
}

Reply OtaService::enroll(const std::string& token, std::string_view signed_attributes,
                         const std::string& remote, const std::string& host_url) {
  if (!is_token(token)) refuse(404, "no such enrollment invitation", remote);
  const std::string invitation = crypto::sha256_hex(token);
  require_usable(invitation, remote);
  events::EnrollmentRequested requested;
  try {
    requested = read_device_attributes(signed_attributes, device_ca_.get(), token);
  } catch (const BadRequest& e) {
    refuse(400, std::string("device attributes: ") + e.what(), remote);
  }
  requested.invitation = invitation;
  ProfileRequest request;
  request.host_url = host_url;
  // The UDID is the device's own word only when its certificate chains to the configured device
  // CA; only then may the identity it gets replace an enrolled device's.
  if (device_ca_) request.udid = requested.udid;
  try {
    profiles_.spec_for(request, nullptr);  // the server can answer (a push certificate, ...)
  } catch (const ClientError& e) {
    logging::error("OTA enrollment cannot be answered", {{"error", e.what()}});
    throw Unavailable(std::string("enrollment is not ready on this server: ") + e.what());
  }
  const std::string udid = requested.udid;
  auto event = writer_.make("", "device", std::move(requested));
  const std::string event_id = event.id;
  writer_.append_and_wait_applied({std::move(event)});
  // Two requests racing with one token (two devices, or one device's attributes sent twice):
  // the log's order decides, the same in every replica; only the first gets a profile.
  if (reader_.invitation(invitation)->used_by_event != event_id)
    refuse(410, "the enrollment invitation was already used", remote);
  logging::info("OTA enrollment", {{"udid", udid}, {"remote", remote}});
  return {200, profiles_.issue(request, "ota").signed_der, kProfileType};
}

}  // namespace cairn::enrollment
