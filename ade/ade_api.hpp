// The admin API of Automated Device Enrollment (routes in http/http_server.cpp, shapes in
// schemas/openapi.yaml): the token certificate and the token, ADE profiles, the assignment rules,
// the ADE devices (before and after they enroll), and a sync on demand. Errors are exceptions
// (BadRequest and the like), as in ingest's APIs.
#pragma once

#include <string>

#include "ade/syncer.hpp"
#include "crypto/secret_box.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/api_response.hpp"
#include "ingest/event_writer.hpp"
#include "projector/ade.hpp"
#include "projector/queries.hpp"

namespace cairn::ade {

class AdeApi {
 public:
  // `syncer` may be null: this node does not sync (a sync asked for here waits for the one that
  // does, within its interval).
  AdeApi(ingest::EventWriter& writer, const projector::ProjectionReader& reader,
         const crypto::SecretBox& secrets, Syncer* syncer)
      : writer_(writer),
        reader_(reader),
        ade_(reader.store()),
        secrets_(secrets),
        syncer_(syncer) {}

  // POST /v1/ade/tokens/{name}/certificate: a new RSA-2048 key (sealed in the log) and a
  // self-signed certificate to upload to Apple Business Manager (PEM). 409 if the token has one
  // and `replace` is false: a new one makes the token files made for the old one unreadable.
  ingest::ApiResponse create_certificate(const std::string& name, bool replace,
                                         const ingest::Principal& actor);
  ingest::ApiResponse certificate(const std::string& name) const;  // GET, PEM
  // PUT /v1/ade/tokens/{name}: the token file Apple Business Manager gave (.p7m), opened with the
  // certificate's key; its credentials are sealed before they are recorded. Wakes the syncer.
  ingest::ApiResponse upload_token(const std::string& name, std::string_view file,
                                   const ingest::Principal& actor);
  ingest::ApiResponse tokens() const;  // GET /v1/ade/tokens: each one's sync state, no secrets
  ingest::ApiResponse sync(const std::string& name);  // POST /v1/ade/tokens/{name}/sync
  // PUT /v1/ade/tokens/{name}/assignment: {"default_profile": "...", "rules": [...]}.
  ingest::ApiResponse set_assignment(const std::string& name, std::string_view body,
                                     const ingest::Principal& actor);
  // PUT /v1/ade/profiles/{name}: Apple's profile fields (profile_name required).
  ingest::ApiResponse store_profile(const std::string& name, std::string_view body,
                                    const ingest::Principal& actor);
  ingest::ApiResponse profiles() const;
  // GET /v1/ade/devices?after=&limit= and /v1/ade/devices/{serial}: what Apple said of each
  // device, what Cairn assigned, and its enrollment (the UDID's state in Cairn when it has one).
  ingest::ApiResponse devices(const std::string& after, size_t limit) const;
  // PUT|DELETE /v1/ade/devices/{serial}/hold: out of automatic assignment (its profile removed at
  // Apple by the syncer, no rule gives it another), or back to the rules.
  ingest::ApiResponse hold(const std::string& serial, bool held, const ingest::Principal& actor);
  ingest::ApiResponse device(const std::string& serial) const;

 private:
  projector::AdeTokenRecord known_token(const std::string& name) const;
  void write_device(JsonWriter& j, const projector::AdeDeviceRecord& d) const;

  ingest::EventWriter& writer_;
  const projector::ProjectionReader& reader_;
  projector::AdeReader ade_;
  const crypto::SecretBox& secrets_;
  Syncer* syncer_;
};

}  // namespace cairn::ade
