// Names of the error codes: the strings clients match on (docs/protocol.md).
#include "engine/types.hpp"

namespace parley::engine {
namespace {

// Every code's name; empty for a value that is no code.
constexpr std::string_view name_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request:
      return "bad_request";
    case ErrorCode::not_authenticated:
      return "not_authenticated";
    case ErrorCode::unknown_user:
      return "unknown_user";
    case ErrorCode::unknown_device:
      return "unknown_device";
    case ErrorCode::unknown_channel:
      return "unknown_channel";
    case ErrorCode::not_a_member:
      return "not_a_member";
    case ErrorCode::not_a_group:
      return "not_a_group";
    case ErrorCode::not_admin:
      return "not_admin";
    case ErrorCode::already_member:
      return "already_member";
    case ErrorCode::group_full:
      return "group_full";
    case ErrorCode::invalid_name:
      return "invalid_name";
    case ErrorCode::name_taken:
      return "name_taken";
    case ErrorCode::invalid_utf8:
      return "invalid_utf8";
    case ErrorCode::message_empty:
      return "message_empty";
    case ErrorCode::message_too_long:
      return "message_too_long";
    case ErrorCode::invalid_client_msg_id:
      return "invalid_client_msg_id";
    case ErrorCode::invalid_limit:
      return "invalid_limit";
    case ErrorCode::invalid_cursor:
      return "invalid_cursor";
    case ErrorCode::invalid_ack:
      return "invalid_ack";
    case ErrorCode::blocked:
      return "blocked";
    case ErrorCode::not_visible:
      return "not_visible";
    case ErrorCode::too_many_contacts:
      return "too_many_contacts";
    case ErrorCode::invalid_push_token:
      return "invalid_push_token";
    case ErrorCode::malformed_frame:
      return "malformed_frame";
    case ErrorCode::hello_required:
      return "hello_required";
    case ErrorCode::rate_limited:
      return "rate_limited";
    case ErrorCode::overloaded:
      return "overloaded";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::weak_password:
      return "weak_password";
    case ErrorCode::too_many_devices:
      return "too_many_devices";
    case ErrorCode::too_many_groups:
      return "too_many_groups";
    case ErrorCode::not_leader:
      return "not_leader";
    case ErrorCode::unknown_message:
      return "unknown_message";
    case ErrorCode::not_your_message:
      return "not_your_message";
    case ErrorCode::too_late:
      return "too_late";
    case ErrorCode::message_deleted:
      return "message_deleted";
    case ErrorCode::search_unavailable:
      return "search_unavailable";
  }
  return {};
}

static_assert(covers_exactly(ErrorCode::bad_request, kLastErrorCode,
                             [](ErrorCode code) { return !name_of(code).empty(); }),
              "error codes run from bad_request to kLastErrorCode: move kLastErrorCode");

}  // namespace

std::string_view to_string(ErrorCode code) {
  const std::string_view name = name_of(code);
  return name.empty() ? "unknown" : name;
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
  for (auto raw = static_cast<std::uint16_t>(ErrorCode::bad_request);
       raw <= static_cast<std::uint16_t>(kLastErrorCode); ++raw) {
    const auto code = static_cast<ErrorCode>(raw);
    if (to_string(code) == text) return code;
  }
  return std::nullopt;
}

std::string describe_duration(TimeUs us) {
  struct Unit {
    TimeUs us;
    const char* name;
  };
  constexpr Unit kUnits[] = {
      {3'600'000'000, "hour"}, {60'000'000, "minute"}, {1'000'000, "second"}};
  for (const Unit& unit : kUnits) {
    if (us >= unit.us && us % unit.us == 0) {
      const TimeUs n = us / unit.us;
      return std::to_string(n) + " " + unit.name + (n == 1 ? "" : "s");
    }
  }
  if (us % 1000 == 0) return std::to_string(us / 1000) + " ms";
  return std::to_string(us) + " µs";
}

}  // namespace parley::engine
