// The account routes (docs/protocol.md, "Accounts"): each answers through `reply`, after the
// engine batch that read or wrote its records has committed.
#pragma once

#include "net/node/http_api.hpp"

namespace parley::net {

// POST /v1/signup {"name", "password"}
void sign_up(Shared& shared, const Request& request, Reply reply);
// POST /v1/login {"name", "password", "device"?, "device_label"?}
void log_in(Shared& shared, const Request& request, Reply reply);
// POST /v1/logout: this token's device is signed out; POST /v1/logout/all: every device of
// the user.
void log_out(Shared& shared, const Request& request, Reply reply, bool everywhere);
// POST /v1/password {"old_password", "new_password"}
void change_password(Shared& shared, const Request& request, Reply reply);
// GET /v1/profile: the caller's user and devices.
void profile(Shared& shared, const Request& request, Reply reply);

}  // namespace parley::net
