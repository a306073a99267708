// Where the dispatcher's pushes go: one APNs client per push certificate (topic). An interface
// so the dispatcher does not depend on how pushes travel; the APNs simulator is reached through
// the same ApnsPusher by configuration (its URL), not by a different implementation.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dispatcher/apns_client.hpp"

namespace cairn::dispatcher {

class Pusher {
 public:
  virtual ~Pusher() = default;
  // Installs or replaces the certificate (PEM) and its clear private key for a topic.
  virtual void set_certificate(const std::string& topic, const std::string& certificate_pem,
                               const std::string& key_pem) = 0;
  virtual bool has_certificate(const std::string& topic) const = 0;
  // Sends pushes of one topic; results in order.
  virtual std::vector<PushResult> send(const std::string& topic,
                                       const std::vector<Push>& pushes) = 0;
};

class ApnsPusher final : public Pusher {
 public:
  explicit ApnsPusher(ApnsClient::Options options) : options_(std::move(options)) {}
  void set_certificate(const std::string& topic, const std::string& certificate_pem,
                       const std::string& key_pem) override {
    clients_[topic] = std::make_unique<ApnsClient>(options_, certificate_pem, key_pem);
  }
  bool has_certificate(const std::string& topic) const override { return clients_.contains(topic); }
  std::vector<PushResult> send(const std::string& topic, const std::vector<Push>& pushes) override {
    return clients_.at(topic)->send(pushes);
  }

 private:
  ApnsClient::Options options_;
  std::map<std::string, std::unique_ptr<ApnsClient>> clients_;
};

}  // namespace cairn::dispatcher
