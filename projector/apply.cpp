#include "projector/apply.hpp"

#include "common/clock.hpp"

#include "common/encoding.hpp"
#include "projector/ade.hpp"
#include "projector/declarative.hpp"
#include "projector/inventory.hpp"
#include "projector/keys.hpp"
#include "projector/records.hpp"
#include "projector/webhooks.hpp"
#include "protocol/messages.hpp"
#include "store/record_codec.hpp"

namespace cairn::projector {
namespace {

// An erased device may come back with a new identity (and no CheckOut) for this long.
constexpr int kErasedReenrollmentDays = 7;

// Typed access to the state for one event.
class Tx {
 public:
  explicit Tx(State& state) : state_(state) {}

  template <typename T>
  std::optional<T> load(const std::string& key) {
    auto v = state_.get(key);
    if (!v) return std::nullopt;
    return store::decode_record<T>(*v);
  }
  template <typename T>
  void save(const std::string& key, const T& record) {
    put(key, store::encode_record(record));
  }
  std::optional<std::string> load_raw(const std::string& key) { return state_.get(key); }
  void put(std::string key, std::string value) { state_.put(std::move(key), std::move(value)); }
  void erase(const std::string& key) { state_.erase(key); }
  void scan(const std::string& prefix, const std::string& start, const State::Visitor& visit) {
    state_.scan(prefix, start, visit);
  }
  State& state() { return state_; }

 private:
  State& state_;
};

DeviceRecord touch_device(Tx& tx, const events::Event& e) {
  auto device = tx.load<DeviceRecord>(keys::device(e.device)).value_or(DeviceRecord{});
  if (device.udid.empty()) {
    device.udid = e.device;
    device.first_seen = e.time;
  }
  device.last_seen = e.time;
  device.inactive_since.clear();
  return device;
}

// A command leaves the queue: its entry and its body go, its record stays as history.
// Saves a command whose state was `was` (nullopt: a new one), keeping the fleet-wide index by
// state (keys::command_by_state) in step.
void save_command(Tx& tx, const CommandRecord& cmd, std::optional<CommandState> was) {
  if (was != cmd.state) {
    if (was)
      tx.erase(keys::command_by_state(command_state_name(*was), cmd.enqueued_at, cmd.udid,
                                      cmd.command_uuid));
    tx.put(keys::command_by_state(command_state_name(cmd.state), cmd.enqueued_at, cmd.udid,
                                  cmd.command_uuid),
           "");
  }
  tx.save(keys::command(cmd.udid, cmd.command_uuid), cmd);
}

void dequeue(Tx& tx, const std::string& udid, const std::string& uuid,
             const std::string& queue_key) {
  tx.erase(queue_key);
  tx.erase(keys::command_body(udid, uuid));
}

// A re-enrolling device (restored, wiped, re-installed profile) must not run commands queued for
// its previous life — an old EraseDevice would wipe it again. They leave the queue as cancelled.
void cancel_queue(Tx& tx, DeviceRecord& device, const std::string& time, int64_t now) {
  const std::string& udid = device.udid;
  std::vector<std::pair<std::string, std::string>> entries;
  tx.scan(keys::queue_prefix(udid), keys::queue_entry(udid, device.queue_floor),
          [&](std::string_view k, std::string_view v) {
            entries.emplace_back(k, v);
            return true;
          });
  for (const auto& [queue_key, uuid] : entries) {
    const auto key = keys::command(udid, uuid);
    if (auto cmd = tx.load<CommandRecord>(key)) {
      const auto was = cmd->state;
      cmd->state = CommandState::kCancelled;
      cmd->finished_at = time;
      save_command(tx, *cmd, was);
    }
    dequeue(tx, udid, uuid, queue_key);
  }
  device.queue_floor = now;  // everything queued before this event is gone
}

// After removing the entry at `removed`, raise the floor past it if nothing before it is queued.
void advance_queue_floor(Tx& tx, DeviceRecord& device, int64_t removed) {
  if (removed < device.queue_floor) return;
  const std::string removed_key = keys::queue_entry(device.udid, removed);
  bool earlier_queued = false;
  tx.scan(keys::queue_prefix(device.udid), keys::queue_entry(device.udid, device.queue_floor),
          [&](std::string_view key, std::string_view) {
            earlier_queued = key < removed_key;
            return false;
          });
  if (!earlier_queued) device.queue_floor = removed + 1;
}

std::vector<std::string> pending_identities(Tx& tx, const std::string& udid) {
  std::vector<std::string> out;
  const auto prefix = keys::pending_identity_prefix(udid);
  tx.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    out.emplace_back(key.substr(prefix.size()));
    return true;
  });
  return out;
}

// The device authenticated or used one of its pending identities: the others (and their
// bindings) are gone. `kept` stays bound.
void clear_pending_identities(Tx& tx, const std::string& udid, const std::string& kept) {
  for (const auto& fingerprint : pending_identities(tx, udid)) {
    tx.erase(keys::pending_identity(udid, fingerprint));
    if (fingerprint != kept) tx.erase(keys::certificate(fingerprint, udid));
  }
}

void bind_certificate(Tx& tx, DeviceRecord& device, const std::string& fingerprint) {
  if (device.certificate_fingerprint == fingerprint) return;
  if (!device.certificate_fingerprint.empty())
    tx.erase(keys::certificate(device.certificate_fingerprint, device.udid));
  device.certificate_fingerprint = fingerprint;
  tx.put(keys::certificate(fingerprint, device.udid), "");
}

// The device signed a message with a pending identity: from now on that is its identity, and
// the one it replaces (and any other pending) no longer opens anything.
void note_certificate_used(Tx& tx, DeviceRecord& device, const std::string& fingerprint) {
  if (fingerprint.empty() || fingerprint == device.certificate_fingerprint ||
      !tx.load_raw(keys::pending_identity(device.udid, fingerprint)))
    return;
  clear_pending_identities(tx, device.udid, fingerprint);
  bind_certificate(tx, device, fingerprint);
}

// A user channel takes what its device decided: the enrollment profile (its access rights) and
// the APNs environment. (The device's events are in the same partition: protocol::Channel.)
void inherit_from_device(Tx& tx, DeviceRecord& channel) {
  const std::string device_id = protocol::device_channel_of(channel.udid).value();
  if (const auto device = tx.load<DeviceRecord>(keys::device(device_id))) {
    channel.enrollment_profile = device->enrollment_profile;
    channel.development_apns = device->development_apns;
  }
}

// The device enrolled again or checked out: its users' channels end with it, until a user sends
// UserAuthenticate or TokenUpdate again. On a new enrollment their queues go too, as the
// device's own does (cancel_queue).
void end_user_channels(Tx& tx, const std::string& udid, const std::string& time,
                       std::optional<int64_t> cancel_at) {
  std::vector<std::string> ids;
  const std::string prefix = keys::user_channels_prefix(udid);
  tx.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(keys::device("").size()));
    return true;
  });
  for (const auto& id : ids) {
    auto channel = tx.load<DeviceRecord>(keys::device(id));
    if (!channel) continue;
    if (cancel_at) {
      cancel_queue(tx, *channel, time, *cancel_at);
      clear_inventory(tx.state(), id);
      clear_reported_state(tx.state(), id);
    }
    if (channel->unlock_token_escrowed) tx.erase(keys::unlock_token(id));
    channel->unlock_token_escrowed = false;
    channel->token_hex.clear();
    channel->push_magic.clear();
    channel->state = EnrollmentState::kCheckedOut;
    channel->checked_out_at = time;
    tx.save(keys::device(id), *channel);
  }
}

// Whether a message on a channel (the device's, or a user's on it) came from the identity the
// device speaks with now, and the device is managed. A message authorized just before its device
// checked out or enrolled anew with another identity is applied after that: it must not revive a
// user's channel, nor put back what the previous enrollment reported (it stays in the log only).
bool device_accepts(Tx& tx, const std::string& channel_id, const std::string& fingerprint) {
  const std::string device_id = protocol::device_channel_of(channel_id).value();
  const auto device = tx.load<DeviceRecord>(keys::device(device_id));
  return device && device->state != EnrollmentState::kCheckedOut &&
         (device->certificate_fingerprint == fingerprint ||
          tx.load_raw(keys::pending_identity(device_id, fingerprint)));
}

std::string days_after(const std::string& time, int days) {
  const auto t = parse_rfc3339(time);
  return t ? format_rfc3339(*t + std::chrono::days(days)) : std::string();
}

struct Applier {
  Tx& tx;
  const events::Event& e;
  LogPosition position;
  Applied outcome = Applied::kFully;

  void operator()(const events::DeviceAuthenticated& p) {
    auto device = touch_device(tx, e);
    if (device.enrollments > 0) cancel_queue(tx, device, e.time, position.offset.value());
    device.state = EnrollmentState::kAuthenticated;
    device.topic = p.topic;
    device.serial_number = p.serial_number;
    device.identity_source = p.identity_source;
    device.enrollment_profile = p.enrollment_profile;
    device.development_apns = p.development_apns;
    device.reenrollment_allowed.clear();
    device.reenrollment_allowed_until.clear();
    device.authenticated_at = e.time;
    device.enrolled_at.clear();
    device.checked_out_at.clear();
    device.token_hex.clear();
    device.push_magic.clear();
    if (device.unlock_token_escrowed) tx.erase(keys::unlock_token(device.udid));
    device.unlock_token_escrowed = false;
    // A new enrollment (an erased Mac comes back) escrows its own bootstrap token again.
    if (tx.load_raw(keys::bootstrap_token(device.udid)))
      tx.erase(keys::bootstrap_token(device.udid));
    ++device.enrollments;
    clear_pending_identities(tx, device.udid, p.certificate_fingerprint);
    if (device.enrollments > 1) {
      clear_inventory(tx.state(), device.udid);
      clear_reported_state(tx.state(), device.udid);
    }
    bind_certificate(tx, device, p.certificate_fingerprint);
    end_user_channels(tx, device.udid, e.time, position.offset.value());
    tx.save(keys::device(e.device), device);
  }

  // A user channel starts (or starts again, after its device enrolled anew); its queue is kept.
  void operator()(const events::UserAuthenticated& p) {
    auto channel = touch_device(tx, e);
    if (!device_accepts(tx, channel.udid, p.certificate_fingerprint)) return;  // in the log only
    inherit_from_device(tx, channel);
    channel.user_short_name = p.user_short_name;
    channel.user_long_name = p.user_long_name;
    if (channel.authenticated_at.empty() || channel.state == EnrollmentState::kCheckedOut) {
      channel.state = EnrollmentState::kAuthenticated;
      channel.authenticated_at = e.time;
      channel.checked_out_at.clear();
      ++channel.enrollments;
    }
    tx.save(keys::device(e.device), channel);
  }

  void operator()(const events::TokenUpdated& p) {
    auto device = touch_device(tx, e);
    if (protocol::is_user_channel_id(device.udid)) {
      if (!device_accepts(tx, device.udid, p.certificate_fingerprint)) return;  // in the log only
      inherit_from_device(tx, device);
      device.user_short_name = p.user_short_name;
      device.user_long_name = p.user_long_name;
      device.checked_out_at.clear();
    }
    if (device.state != EnrollmentState::kEnrolled) {
      device.state = EnrollmentState::kEnrolled;
      device.enrolled_at = e.time;
    }
    device.topic = p.topic;
    device.token_hex = p.token_hex;
    device.push_magic = p.push_magic;
    if (!p.unlock_token_sealed.empty()) {
      tx.put(keys::unlock_token(device.udid), p.unlock_token_sealed);
      device.unlock_token_escrowed = true;
    }
    device.awaiting_configuration = p.awaiting_configuration;
    note_certificate_used(tx, device, p.certificate_fingerprint);
    device.push_token_invalid_since.clear();  // a TokenUpdate makes the device pushable again
    device.push_token_invalid_reason.clear();
    tx.save(keys::device(e.device), device);
  }

  void operator()(const events::BootstrapTokenSet& p) {
    auto device = touch_device(tx, e);
    note_certificate_used(tx, device, p.certificate_fingerprint);
    device.awaiting_configuration = p.awaiting_configuration;
    if (!p.token_sealed.empty())
      tx.put(keys::bootstrap_token(device.udid), p.token_sealed);
    else
      tx.erase(keys::bootstrap_token(device.udid));
    tx.save(keys::device(e.device), device);
  }

  void operator()(const events::BootstrapTokenReturned& p) {
    auto device = touch_device(tx, e);
    note_certificate_used(tx, device, p.certificate_fingerprint);
    device.awaiting_configuration = p.awaiting_configuration;
    tx.save(keys::device(e.device), device);
  }

  void operator()(const events::DeviceCheckedOut& p) {
    auto device = touch_device(tx, e);
    note_certificate_used(tx, device, p.certificate_fingerprint);
    device.state = EnrollmentState::kCheckedOut;
    device.checked_out_at = e.time;
    end_user_channels(tx, device.udid, e.time, std::nullopt);
    tx.save(keys::device(e.device), device);
  }

  void operator()(const events::CommandEnqueued& p) {
    const auto key = keys::command(e.device, p.command_uuid);
    if (tx.load<CommandRecord>(key)) return;  // the same UUID twice for a device: first one wins
    CommandRecord cmd;
    cmd.udid = e.device;
    cmd.command_uuid = p.command_uuid;
    cmd.request_type = p.request_type;
    cmd.actor = e.actor;
    cmd.no_push = p.no_push;
    cmd.queue_sequence = position.offset.value();
    cmd.enqueued_at = e.time;
    save_command(tx, cmd, std::nullopt);
    tx.put(keys::command_body(e.device, p.command_uuid), p.command_plist);
    tx.put(keys::queue_entry(e.device, cmd.queue_sequence), p.command_uuid);
    tx.put(keys::target(p.command_uuid, e.device), "");
  }

  // The command if it is still queued (pending, delivered, or refused with NotNow).
  std::optional<CommandRecord> queued_command(const std::string& uuid) {
    auto cmd = tx.load<CommandRecord>(keys::command(e.device, uuid));
    return cmd && is_queued(cmd->state) ? cmd : std::nullopt;
  }

  void operator()(const events::CommandDelivered& p) {
    auto cmd = queued_command(p.command_uuid);
    if (!cmd) return;
    const auto was = cmd->state;
    cmd->state = CommandState::kDelivered;
    cmd->last_delivered_at = e.time;
    ++cmd->deliveries;
    save_command(tx, *cmd, was);
  }

  // Out of the queue, never sent again; a finished command (or an unknown one) is left as it is.
  void operator()(const events::CommandCancelled& p) {
    auto cmd = queued_command(p.command_uuid);
    if (!cmd) return;
    const auto was = cmd->state;
    cmd->state = CommandState::kCancelled;
    cmd->finished_at = e.time;
    save_command(tx, *cmd, was);
    dequeue(tx, e.device, p.command_uuid, keys::queue_entry(e.device, cmd->queue_sequence));
    if (auto device = tx.load<DeviceRecord>(keys::device(e.device))) {
      advance_queue_floor(tx, *device, cmd->queue_sequence);
      tx.save(keys::device(e.device), *device);
    }
  }

  void operator()(const events::CommandReported& p) {
    auto device = tx.load<DeviceRecord>(keys::device(e.device));
    if (!device) return;  // ingest only records reports from known devices
    device->last_seen = e.time;
    device->inactive_since.clear();
    note_certificate_used(tx, *device, p.certificate_fingerprint);
    apply_status(p, *device);
    tx.save(keys::device(e.device), *device);
  }

  void apply_status(const events::CommandReported& p, DeviceRecord& device) {
    const auto status = protocol::parse_status(p.status);
    if (!status) return;
    if (*status == protocol::Status::kIdle) {
      device.session_start = position.offset.value();
      return;
    }
    const auto key = keys::command(e.device, p.command_uuid);
    auto cmd = tx.load<CommandRecord>(key);
    if (!cmd) return;  // a result for a command we never queued: recorded in the log only
    const auto was = cmd->state;
    if (!is_queued(cmd->state)) {
      ++cmd->duplicate_results;  // late or repeated: the queue is not touched
      tx.save(key, *cmd);
      return;
    }
    if (*status == protocol::Status::kNotNow) {
      cmd->state = CommandState::kNotNow;
      cmd->not_now_sequence = position.offset.value();
      ++cmd->not_now_count;
    } else {
      cmd->state = *status == protocol::Status::kAcknowledged ? CommandState::kAcknowledged
                   : *status == protocol::Status::kError      ? CommandState::kError
                                                              : CommandState::kCommandFormatError;
      cmd->finished_at = e.time;
      // An erased device comes back with a new identity and no CheckOut: let it enroll again.
      if (cmd->state == CommandState::kAcknowledged && cmd->request_type == "EraseDevice") {
        device.reenrollment_allowed = "erased";
        device.reenrollment_allowed_until = days_after(e.time, kErasedReenrollmentDays);
      }
      for (const auto& link : p.error_chain)
        cmd->error_chain.push_back({link.domain, link.code, link.description});
      if (cmd->state == CommandState::kAcknowledged && is_inventory_request(cmd->request_type))
        if (!apply_inventory(
                tx.state(), e.device, cmd->request_type, cmd->command_uuid, e.time,
                p.message.encoding == "base64" ? base64_decode(p.message.body) : p.message.body,
                tx.load_raw(keys::command_body(e.device, p.command_uuid)).value_or("")))
          outcome = Applied::kResultUninterpretable;
      cmd->result_partition = position.partition.value();
      cmd->result_offset = position.offset.value();
      dequeue(tx, e.device, p.command_uuid, keys::queue_entry(e.device, cmd->queue_sequence));
      advance_queue_floor(tx, device, cmd->queue_sequence);
    }
    save_command(tx, *cmd, was);
  }

  void operator()(const events::PushCertificateUploaded& p) {
    tx.save(keys::push_certificate(p.topic),
            PushCertificateRecord{p.topic, p.certificate_pem, p.not_after, e.time, e.actor});
  }

  void operator()(const events::PushSent&) {
    auto device = tx.load<DeviceRecord>(keys::device(e.device));
    if (!device) return;
    device->last_push_at = e.time;
    tx.save(keys::device(e.device), *device);
  }

  void operator()(const events::PushTokenInvalidated& p) {
    auto device = tx.load<DeviceRecord>(keys::device(e.device));
    if (!device || device->token_hex != p.token_hex) return;  // a newer token came meanwhile
    device->push_token_invalid_since = e.time;
    device->push_token_invalid_reason = p.reason;
    tx.save(keys::device(e.device), *device);
  }

  void operator()(const events::DeviceInactive&) {
    auto device = tx.load<DeviceRecord>(keys::device(e.device));
    if (!device) return;
    device->inactive_since = e.time;
    tx.save(keys::device(e.device), *device);
  }

  // Recorded for the dispatcher and for audit; no projected state.
  // Declarative device management: projector/declarative.
  void operator()(const events::DeclarationStored& p) {
    apply_declaration_stored(tx.state(), e, p);
  }
  void operator()(const events::DeclarationDeleted& p) { apply_declaration_deleted(tx.state(), p); }
  void operator()(const events::SetDeclarationChanged& p) { apply_set_declaration(tx.state(), p); }
  void operator()(const events::EnrollmentSetChanged& p) { apply_enrollment_set(tx.state(), e, p); }
  void operator()(const events::DeclarativeRequested& p) {
    if (!declarative_from_current_identity(p.certificate_fingerprint)) return;
    apply_declarative_request(tx.state(), e, p);
  }
  void operator()(const events::StatusReported& p) {
    if (!declarative_from_current_identity(p.certificate_fingerprint)) return;
    if (apply_status_report(tx.state(), e, position, p) == StatusApplied::kUnreadable)
      outcome = Applied::kResultUninterpretable;
  }
  // A DDM request changes the enrollment's DDM state only when it came with the device's current
  // (or a pending) identity: see device_accepts.
  bool declarative_from_current_identity(const std::string& fingerprint) {
    if (!device_accepts(tx, e.device, fingerprint)) return false;
    auto channel = touch_device(tx, e);
    if (!protocol::is_user_channel_id(channel.udid))
      note_certificate_used(tx, channel, fingerprint);
    tx.save(keys::device(e.device), channel);
    return true;
  }

  void operator()(const events::PushRequested&) {}
  void operator()(const events::MessageRejected&) {}
  void operator()(const events::PushFailed&) {}
  // Identities are bound to devices at Authenticate; kept here for the expiry report.
  void operator()(const events::CertificateIssued& p) {
    tx.save(
        keys::issued_identity(p.not_after, p.fingerprint),
        IssuedIdentityRecord{p.fingerprint, p.subject, p.serial, p.not_after, p.method, e.time});
    // The first certificate for a one-time challenge uses it up; a racing second one (another
    // node) stays in the log only and is never delivered.
    if (p.scep_challenge.empty()) return;
    auto challenge = tx.load<ScepChallengeRecord>(keys::scep_challenge(p.scep_challenge));
    if (!challenge || !challenge->used_by_fingerprint.empty()) return;
    challenge->used_by_fingerprint = p.fingerprint;
    challenge->used_at = e.time;
    tx.save(keys::scep_challenge(p.scep_challenge), *challenge);
  }
  void operator()(const events::EnrollmentRefused&) {}
  void operator()(const events::ProfileIssued& p) {
    tx.save(keys::enrollment_profile(p.profile_uuid),
            EnrollmentProfileRecord{p.identity, p.topic, p.access_rights, e.time, e.actor,
                                    p.development_apns, p.udid});
    if (!p.scep_challenge.empty())
      tx.save(keys::scep_challenge(p.scep_challenge),
              ScepChallengeRecord{p.scep_challenge_expires_at, p.profile_uuid, "", "", p.udid});
  }

  // Pending beside the current identity (which stays valid until the device uses one of them),
  // also before the device's first Authenticate (a profile made for a new device), which then
  // keeps the one it enrolled with and drops the rest. A renewal is decided again here, in log
  // order: another node may have re-enrolled the device since the renewed identity was checked.
  void operator()(const events::IdentityBound& p) {
    if (p.reason == "renewal") {
      const auto device = tx.load<DeviceRecord>(keys::device(e.device));
      if (!device || device->state == EnrollmentState::kCheckedOut ||
          (device->certificate_fingerprint != p.renewed_fingerprint &&
           !tx.load_raw(keys::pending_identity(e.device, p.renewed_fingerprint))))
        return;
    }
    tx.put(keys::pending_identity(e.device, p.fingerprint), "");
    tx.put(keys::certificate(p.fingerprint, e.device), "");
  }

  void operator()(const events::ReenrollmentAllowed& p) {
    auto device = tx.load<DeviceRecord>(keys::device(e.device));
    if (!device) return;
    device->reenrollment_allowed = "allowed by " + e.actor;
    device->reenrollment_allowed_until = p.expires_at;
    tx.save(keys::device(e.device), *device);
  }

  void operator()(const events::EnrollmentInvited& p) {
    tx.save(keys::invitation(p.invitation), InvitationRecord{p.expires_at, e.actor, "", "", ""});
  }
  // The first use of a token wins; later ones (a race between nodes) stay in the log only.
  // Automated Device Enrollment: projector/ade (every apply_ade overload).
  template <class AdeEvent>
  requires requires(State& s, const events::Event& ev, const AdeEvent& p) { apply_ade(s, ev, p); }
  void operator()(const AdeEvent& p) { apply_ade(tx.state(), e, p); }
  // Webhook endpoints and dead letters, for the admin API: projector/webhooks.
  template <class WebhookEvent>
  requires requires(State& s, const events::Event& ev, const WebhookEvent& p) {
    apply_webhook(s, ev, p);
  }
  void operator()(const WebhookEvent& p) { apply_webhook(tx.state(), e, p); }
  // Checkpoints are the audit ledger's (audit/ledger.hpp); the projection keeps nothing of them.
  void operator()(const events::AuditCheckpointed&) {}

  void operator()(const events::EnrollmentRequested& p) {
    auto invitation = tx.load<InvitationRecord>(keys::invitation(p.invitation));
    if (!invitation || !invitation->used_by_udid.empty()) return;
    invitation->used_by_udid = p.udid;
    invitation->used_by_event = e.id;
    invitation->used_at = e.time;
    tx.save(keys::invitation(p.invitation), *invitation);
  }
};

}  // namespace

std::string_view enrollment_state_name(EnrollmentState s) {
  switch (s) {
    case EnrollmentState::kAuthenticated:
      return "authenticated";
    case EnrollmentState::kEnrolled:
      return "enrolled";
    case EnrollmentState::kCheckedOut:
      return "checked_out";
  }
  return "unknown";
}

std::string_view command_state_name(CommandState s) {
  switch (s) {
    case CommandState::kPending:
      return "pending";
    case CommandState::kDelivered:
      return "delivered";
    case CommandState::kNotNow:
      return "not_now";
    case CommandState::kAcknowledged:
      return "acknowledged";
    case CommandState::kError:
      return "error";
    case CommandState::kCommandFormatError:
      return "command_format_error";
    case CommandState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Applied apply_event(const events::Event& event, LogPosition position, State& state) {
  Tx tx(state);
  Applier applier{tx, event, position};
  std::visit(applier, event.payload);
  return applier.outcome;
}

}  // namespace cairn::projector
