// libFuzzer target: what an administrator sends to the webhook API (an endpoint, a redelivery)
// and the body built for a receiver from a log record. The first byte chooses. A bad request is
// a BadRequest; a record that decodes always gives a body that is valid JSON.
#include <rapidjson/document.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/errors.hpp"
#include "webhook/body.hpp"
#include "webhook/webhook_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: {
        const auto r = webhook::read_endpoint_request(rest);
        if (r.url.size() > 2048 || r.secret.size() > 1024 ||
            !(r.url.starts_with("http://") || r.url.starts_with("https://")))
          std::abort();
        for (const auto& t : r.topics)
          if (std::find(webhook::known_topics().begin(), webhook::known_topics().end(), t) ==
              webhook::known_topics().end())
            std::abort();
        break;
      }
      case 1:
        (void)webhook::read_redelivery_request(rest);
        break;
      default: {
        events::Event e;
        try {
          e = events::decode(rest);
        } catch (const std::runtime_error&) {
          return 0;
        }
        const auto topic = webhook::topic_of(e.payload);
        if (!topic) return 0;
        const auto body = webhook::body_of(e, *topic);
        rapidjson::Document d;
        d.Parse(body.c_str(), body.size());
        if (d.HasParseError() || !d.IsObject()) std::abort();
        break;
      }
    }
  } catch (const BadRequest&) {
  }
  return 0;
}
