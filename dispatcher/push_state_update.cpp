#include "dispatcher/push_state_update.hpp"

#include "common/clock.hpp"
#include "protocol/messages.hpp"

namespace cairn::dispatcher {
namespace {

// When the event happened (its time), or `fallback` for a time this version cannot read.
int64_t ms_of(const events::Event& e, int64_t fallback) {
  const auto t = parse_rfc3339(e.time);
  return t ? std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count()
           : fallback;
}

}  // namespace

void PushStateUpdate::apply(const events::Event& event) {
  std::visit([&](const auto& payload) { on(event, payload); }, event.payload);
}

void PushStateUpdate::want_push(const std::string& udid) {
  const auto target = state_.load<DevicePushTarget>(keys::target(udid));
  if (!target || target->token_invalid) {
    // Not pushable yet (between Authenticate and TokenUpdate) or any more (a dead token):
    // remembered, so that its next TokenUpdate pushes it.
    state_.put(keys::wanted(udid), "");
    return;
  }
  if (state_.has(keys::pending(udid))) return;  // coalesced with the pending one
  if (auto sent = state_.get(keys::last_sent(udid));
      sent && now_ms_ - std::stoll(*sent) < coalesce_window_ms_)
    return;  // an accepted push is outstanding: the device will poll anyway
  state_.save(keys::pending(udid), pending_for(*target, now_ms_));
  queued_push_ = true;
}

void PushStateUpdate::on(const events::Event& e, const events::TokenUpdated& p) {
  const std::string& udid = e.device;
  // A user channel pushes through the APNs environment of the device it is on.
  const bool development = state_.has(keys::development(protocol::device_channel_of(udid).value()));
  const DevicePushTarget target{p.topic,           p.token_hex, p.push_magic,       false,
                                ms_of(e, now_ms_), false,       partition_.value(), development};
  state_.save(keys::target(udid), target);
  // A pending push goes to the new token (the old one may be dead, and the device ignores a
  // push with an old PushMagic); a wanted one is queued now.
  if (state_.has(keys::pending(udid)) || state_.has(keys::wanted(udid))) {
    state_.save(keys::pending(udid), pending_for(target, now_ms_));
    queued_push_ = true;
  }
  state_.erase(keys::wanted(udid));
}

void PushStateUpdate::forget_target(const std::string& udid) {
  state_.erase(keys::target(udid));
  state_.erase(keys::pending(udid));
  state_.erase(keys::wanted(udid));
  state_.erase(keys::last_sent(udid));
}

// The device enrolled again or checked out: its users' channels ended with it (the projection
// says so too), so their pushes stop until a user's next TokenUpdate.
void PushStateUpdate::forget_user_channels(const std::string& udid) {
  std::vector<std::string> users;
  const std::string prefix = keys::target(udid + ":");
  state_.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    users.emplace_back(key.substr(keys::kTargetPrefix.size()));
    return true;
  });
  for (const auto& user : users) forget_target(user);
}

void PushStateUpdate::on(const events::Event& e, const events::DeviceAuthenticated& p) {
  forget_target(e.device);
  forget_user_channels(e.device);
  if (p.development_apns)
    state_.put(keys::development(e.device), "");
  else if (state_.has(keys::development(e.device)))
    state_.erase(keys::development(e.device));
}

void PushStateUpdate::on(const events::Event& e, const events::DeviceCheckedOut&) {
  forget_target(e.device);
  forget_user_channels(e.device);
}

void PushStateUpdate::on(const events::Event& e, const events::CommandEnqueued& p) {
  if (!p.no_push) want_push(e.device);
}

void PushStateUpdate::on(const events::Event& e, const events::PushRequested&) {
  want_push(e.device);
}

void PushStateUpdate::on(const events::Event& e, const events::CommandReported&) {
  // It polled: the next command needs a push, and a push not sent yet is moot (it gets
  // everything queued in this session). Every dispatcher settles pushes this way, owner or not.
  // (Reads before writes: this runs for every result a device sends, and most change nothing.)
  const std::string& udid = e.device;
  if (state_.has(keys::last_sent(udid))) state_.erase(keys::last_sent(udid));
  if (state_.has(keys::pending(udid))) state_.erase(keys::pending(udid));
  auto target = state_.load<DevicePushTarget>(keys::target(udid));
  const int64_t heard = ms_of(e, now_ms_);
  // Liveness windows are hours: the time it was heard is kept to the minute.
  if (target && (target->inactive || heard - target->last_heard_ms >= 60'000)) {
    target->last_heard_ms = heard;
    target->inactive = false;
    state_.save(keys::target(udid), *target);
  }
}

void PushStateUpdate::on(const events::Event& e, const events::PushTokenInvalidated& p) {
  // Outcomes recorded by whichever dispatcher owned the device's partition: the others keep the
  // same state, ready to take the partition over. (PushSent is not one of them: a push that went
  // out is settled by the device's next message, so a takeover may repeat a push, never miss
  // one.)
  if (auto target = state_.load<DevicePushTarget>(keys::target(e.device));
      target && target->token_hex == p.token_hex && !target->token_invalid) {
    target->token_invalid = true;
    state_.save(keys::target(e.device), *target);
    state_.erase(keys::pending(e.device));
  }
}

void PushStateUpdate::on(const events::Event& e, const events::DeviceInactive&) {
  if (auto target = state_.load<DevicePushTarget>(keys::target(e.device));
      target && !target->inactive) {
    target->inactive = true;
    state_.save(keys::target(e.device), *target);
  }
}

void PushStateUpdate::on(const events::Event&, const events::PushCertificateUploaded& p) {
  TopicCertificate c{p.certificate_pem, p.private_key_sealed};
  state_.save(keys::certificate(p.topic), c);
  new_certificates_[p.topic] = std::move(c);
}

}  // namespace cairn::dispatcher
