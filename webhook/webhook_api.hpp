// The admin API of webhooks (routes in http/http_server.cpp, shapes in schemas/openapi.yaml):
// endpoints, and their dead letters. Reads the projection (projector/webhooks.hpp), so any node
// answers; writes are events the deliverers act on. Errors are exceptions, as in ingest's APIs.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secret_box.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/api_response.hpp"
#include "ingest/event_writer.hpp"
#include "projector/queries.hpp"
#include "projector/webhooks.hpp"

namespace cairn::webhook {

// PUT /v1/webhooks/{name}'s body, checked (BadRequest says what is wrong): an http(s) URL of at
// most 2 KiB naming a host, known topics (sorted, each once), a secret of at most 1 KiB.
struct EndpointRequest {
  std::string url;
  std::vector<std::string> topics;
  std::string secret;
};
EndpointRequest read_endpoint_request(std::string_view body);
// POST /v1/webhooks/{name}/redeliver's body: the event ids named (none: an empty body, all).
std::set<std::string> read_redelivery_request(std::string_view body);

class WebhookApi {
 public:
  WebhookApi(ingest::EventWriter& writer, const projector::ProjectionReader& reader,
             const crypto::SecretBox& secrets)
      : writer_(writer), webhooks_(reader.store()), secrets_(secrets) {}

  // PUT /v1/webhooks/{name}: {"url": "https://…", "topics": ["mdm.Connect", …] (optional: all),
  // "secret": "…" (optional: unsigned)}. Only messages after it reach the endpoint.
  ingest::ApiResponse set_endpoint(const std::string& name, std::string_view body,
                                   const ingest::Principal& actor);
  ingest::ApiResponse remove_endpoint(const std::string& name, const ingest::Principal& actor);
  ingest::ApiResponse endpoints() const;  // GET /v1/webhooks, no secrets
  // GET /v1/webhooks/{name}/dead-letters?after=&limit=: in log order, with a cursor for the next.
  ingest::ApiResponse dead_letters(const std::string& name, const std::string& after,
                                   size_t limit) const;
  // POST /v1/webhooks/{name}/redeliver: {"event_ids": [...]} or no body: every dead letter.
  ingest::ApiResponse redeliver(const std::string& name, std::string_view body,
                                const ingest::Principal& actor);

 private:
  projector::WebhookEndpointRecord known_endpoint(const std::string& name) const;
  ingest::EventWriter& writer_;
  projector::WebhookReader webhooks_;
  const crypto::SecretBox& secrets_;
};

}  // namespace cairn::webhook
