// The projection's database: a store (store/database.hpp) with the projection's key layout.
#pragma once

#include <string>

#include "projector/keys.hpp"
#include "store/database.hpp"

namespace cairn::projector {

class ProjectionStore final : public store::Database {
 public:
  explicit ProjectionStore(const std::string& path) : Database(path, keys::kLayoutVersion) {}
};

}  // namespace cairn::projector
