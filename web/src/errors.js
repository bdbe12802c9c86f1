// What the person reads for the protocol's stable error codes (the `failure` codes of docs/protocol.md).

const ERROR_TEXT = {
  message_too_long: 'That message is too long: at most 99,999 characters.',
  message_empty: 'An empty message cannot be sent.',
  not_a_member: 'You are not a member of this chat any more.',
  blocked: 'You cannot message this person.',
  unknown_user: 'There is no such user.',
  already_member: 'That person is already in the group.',
  group_full: 'The group is full: at most 100 members.',
  not_admin: 'Only the group admin can change its members.',
  invalid_name: 'That name is not allowed.',
  too_many_contacts: 'You have too many contacts.',
  rate_limited: 'You are sending too fast. Slow down a little.',
  overloaded: 'The server is busy. Trying again shortly.',
  invalid_utf8: 'The message contains invalid characters.',
  unknown_message: 'That message is not there to change.',
  not_your_message: 'You can only change your own messages.',
  too_late: 'Too late: a message can be edited for 15 minutes and deleted for 48 hours.',
  message_deleted: 'That message was deleted.',
};

export function describeError(code, fallback) {
  return ERROR_TEXT[code] ?? fallback ?? `Something went wrong (${code}).`;
}

// A reply's own refusals name the message it replied to, not one to change.
const REPLY_ERROR_TEXT = {
  unknown_message: 'The message you replied to is not there.',
  message_deleted: 'The message you replied to was deleted.',
};

// What a refused send says; `reply`: it replied to a message.
export function describeSendError(code, fallback, reply) {
  return (reply && REPLY_ERROR_TEXT[code]) || describeError(code, fallback);
}

// What a refused answer to a message request says (requests.js): `bad_request` there means
// the chat is no longer a request (answered on another device meanwhile).
const REQUEST_ERROR_TEXT = {
  bad_request: 'That chat is not a message request any more.',
  not_a_member: 'You are no longer a member of that group.',
  unknown_channel: 'That chat is not there any more.',
  too_many_contacts: 'You have too many contacts (at most 5,000) to accept this request. Remove one first.',
};

export function describeRequestError(code, fallback) {
  return REQUEST_ERROR_TEXT[code] ?? describeError(code, fallback);
}

// Why a search failed, to follow "Search failed: " (search.js): the `failure` codes of a
// `search`, and `disconnected` for one lost with its connection.
const SEARCH_ERROR_TEXT = {
  overloaded: 'the server is busy',
  search_unavailable: 'search is not available right now',
  bad_request: 'that search cannot be made',
  invalid_limit: 'that search cannot be made',
  invalid_utf8: 'the search holds characters that are not allowed',
  disconnected: 'not connected',
};

export function describeSearchError(code) {
  return SEARCH_ERROR_TEXT[code] ?? `something went wrong (${code})`;
}
