#include "engine/protocol.hpp"

namespace parley::engine {

RequestId request_id(const client::Request& request) {
  return std::visit(
      [](const auto& typed) -> RequestId {
        if constexpr (requires { typed.request; }) {
          return typed.request;
        } else {
          return 0;
        }
      },
      request);
}

}  // namespace parley::engine
