// How events change the dispatcher's state (dispatcher/push_state.hpp): where each device's
// pushes go, which pushes are wanted, which certificate each topic uses. The deciding half of
// Dispatcher::consume(), on one batch of one partition; it sends nothing.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/strong_types.hpp"
#include "dispatcher/push_state.hpp"
#include "schemas/events.hpp"
#include "store/database.hpp"

namespace cairn::dispatcher {

class PushStateUpdate {
 public:
  // `now_ms`: the time decisions are measured against; `coalesce_window`: a device pushed this
  // recently, and silent since, needs no new push.
  PushStateUpdate(store::Batch& state, PartitionId partition, int64_t now_ms,
                  std::chrono::seconds coalesce_window)
      : state_(state),
        partition_(partition),
        now_ms_(now_ms),
        coalesce_window_ms_(coalesce_window.count() * 1000) {}

  void apply(const events::Event& event);

  // Whether an outbox entry was added or redirected: the outbox is worth walking now.
  bool queued_push() const { return queued_push_; }
  // Certificates uploaded in this batch, by topic, to install once the batch is written.
  const std::map<std::string, TopicCertificate>& new_certificates() const {
    return new_certificates_;
  }

 private:
  // A push for the device, unless one is pending or outstanding (coalescing), or it has no
  // usable token (then its next TokenUpdate queues it).
  void want_push(const std::string& udid);
  void on(const events::Event& e, const events::TokenUpdated& p);
  void on(const events::Event& e, const events::DeviceAuthenticated& p);
  void on(const events::Event& e, const events::DeviceCheckedOut& p);
  void on(const events::Event& e, const events::CommandEnqueued& p);
  void on(const events::Event& e, const events::PushRequested& p);
  void on(const events::Event& e, const events::CommandReported& p);
  void on(const events::Event& e, const events::PushTokenInvalidated& p);
  void on(const events::Event& e, const events::DeviceInactive& p);
  void on(const events::Event& e, const events::PushCertificateUploaded& p);
  template <class Other>
  void on(const events::Event&, const Other&) {}  // not a trigger of pushes
  // A new enrollment (or none): its old queue is cancelled, no pushes until its TokenUpdate.
  void forget_target(const std::string& udid);
  void forget_user_channels(const std::string& udid);  // "<udid>:<user>" targets

  store::Batch& state_;
  PartitionId partition_;
  int64_t now_ms_;
  int64_t coalesce_window_ms_;
  bool queued_push_ = false;
  std::map<std::string, TopicCertificate> new_certificates_;
};

}  // namespace cairn::dispatcher
