// A webhook receiver for tests: a real HTTP server on loopback that records what it is sent and
// answers as told (accept, fail, stall, refuse, answer 404 as a misconfigured one, accept with
// an answer that never ends), and can go away and come back on the same port.
#pragma once

#include <httplib.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cairn::testing {

class WebhookReceiver {
 public:
  enum class Mode { kAccept, kFail, kStall, kRefuse, kNotFound, kEndlessAnswer };
  struct Received {
    std::string body;
    std::string signature;  // X-Hmac-Signature
    std::string content_type;
    std::string topic, event_id, udid, status, command_uuid, raw_payload;
  };

  WebhookReceiver() { start(0); }
  ~WebhookReceiver() { stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  void set_mode(Mode mode) { mode_ = mode; }
  // Answers 400 to the event with this id (a body the receiver cannot take), 200 to the rest.
  void refuse(const std::string& event_id) {
    std::lock_guard lock(mu_);
    refused_.insert(event_id);
  }
  void accept_all() {
    std::lock_guard lock(mu_);
    refused_.clear();
  }
  std::chrono::milliseconds stall_for{3000};

  // Goes away (connections refused) and comes back on the same port.
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void restart() {
    stop();
    start(port_);
  }

  // What was answered 2xx, in arrival order.
  std::vector<Received> accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  int attempts() const { return attempts_; }

 private:
  void start(int port) {
    server_.set_keep_alive_timeout(1);  // stop() waits out idle keep-alive connections
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      ++attempts_;
      Received r;
      r.body = req.body;
      r.signature = req.get_header_value("X-Hmac-Signature");
      r.content_type = req.get_header_value("Content-Type");
      rapidjson::Document d;
      d.Parse(req.body.c_str());
      auto field = [](const rapidjson::Value& o, const char* name) {
        const auto it = o.FindMember(name);
        return it != o.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString())
                                                           : std::string();
      };
      if (d.IsObject()) {
        r.topic = field(d, "topic");
        r.event_id = field(d, "event_id");
        for (const char* inner : {"checkin_event", "acknowledge_event"})
          if (const auto it = d.FindMember(inner); it != d.MemberEnd() && it->value.IsObject()) {
            r.udid = field(it->value, "udid");
            r.status = field(it->value, "status");
            r.command_uuid = field(it->value, "command_uuid");
            r.raw_payload = field(it->value, "raw_payload");
          }
      }
      switch (mode_.load()) {
        case Mode::kFail:
          res.status = 503;
          return;
        case Mode::kStall:
          std::this_thread::sleep_for(stall_for);
          res.status = 200;  // too late: the sender gave up waiting
          return;
        case Mode::kRefuse:
          res.status = 422;
          return;
        case Mode::kNotFound:
          res.status = 404;
          return;
        case Mode::kAccept:
        case Mode::kEndlessAnswer:
          break;
      }
      std::lock_guard lock(mu_);
      if (refused_.contains(r.event_id)) {
        res.status = 400;
        res.set_content("cannot take this one", "text/plain");
        return;
      }
      accepted_.push_back(std::move(r));
      res.status = 200;
      if (mode_ == Mode::kEndlessAnswer)
        // 200, then a trickle of bytes for as long as the sender reads (at most 256 MiB).
        res.set_chunked_content_provider(
            "text/plain", [sent = size_t{0}](size_t, httplib::DataSink& sink) mutable {
              const std::string chunk(1024, 'x');
              std::this_thread::sleep_for(std::chrono::microseconds(100));
              sent += chunk.size();
              return sent < (size_t{256} << 20) && sink.write(chunk.data(), chunk.size());
            });
    });
    if (port == 0) {
      port_ = server_.bind_to_any_port("127.0.0.1");
    } else {
      // The old socket may linger a moment after stop().
      for (int i = 0; i < 100 && !server_.bind_to_port("127.0.0.1", port); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<Mode> mode_{Mode::kAccept};
  std::atomic<int> attempts_{0};
  mutable std::mutex mu_;
  std::set<std::string> refused_;
  std::vector<Received> accepted_;
};

}  // namespace cairn::testing
