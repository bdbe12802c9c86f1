# parley's wire format: every frame between a client and a node.
#
# One schema, two encodings (net/wire/codec.hpp):
#   - binary WebSocket frames carry a Cap'n Proto message (standard unpacked serialization,
#     segment table first) whose root is a ClientFrame or a ServerFrame;
#   - text WebSocket frames carry the same struct as JSON, in Cap'n Proto's own JSON mapping
#     (capnp::JsonCodec): field names as written here, 64-bit integers as JSON strings,
#     enumerants by their $Json.name (snake_case), a union as the single member that is set.
#
# docs/protocol.md ("Frame reference") documents every frame and field for client authors.
#
# Conventions:
#   - ids (users, devices, channels, sequence numbers, request ids) are UInt64;
#   - times are Int64 microseconds since the Unix epoch;
#   - error codes are Text holding the engine's snake_case code (e.g. "not_a_member"), never
#     an enum, so that codes added later reach old clients as readable strings;
#   - request ids are chosen by the client and echoed in the answer; they live in each
#     alternative, as in the engine.
#
# Compatibility: only ever add fields and union members (with new ordinals). Never renumber,
# retype or reuse one. Ordinal @0 of each frame union is `unset`: the discriminant of an
# all-zero struct, and of a JSON object naming no known member. The node refuses it.

@0xf1e70268c9d45d92;

using Cxx = import "/capnp/c++.capnp";
using Json = import "/capnp/compat/json.capnp";

$Cxx.namespace("parley::wire");

# ---- Shared ---------------------------------------------------------------------------------

enum MessageKind {
  text @0 $Json.name("text");
  groupCreated @1 $Json.name("group_created");    # text: group name; users: founders, creator first
  memberAdded @2 $Json.name("member_added");      # users: [added]
  memberRemoved @3 $Json.name("member_removed");  # users: [removed]
  memberLeft @4 $Json.name("member_left");        # users: [leaver]
  adminChanged @5 $Json.name("admin_changed");    # users: [new admin]
  edited @6 $Json.name("edited");                 # target: the message edited; text: its new text
  deleted @7 $Json.name("deleted");               # target: the message deleted for everyone
}

struct Message {
  channel @0 :UInt64;
  seq @1 :UInt64;                # position in the channel's own gap-free sequence, from 1
  kind @2 :MessageKind;
  sender @3 :UInt64;
  senderDevice @4 :UInt64;
  serverTime @5 :Int64;          # informational only: order is `seq`
  clientMsgId @6 :Text;          # empty for membership events
  text @7 :Text;
  users @8 :List(UInt64);
  # Edits and deletes (docs/protocol.md#editing-and-deleting).
  target @9 :UInt64;             # edited/deleted: the seq of the message they change
  editedSeq @10 :UInt64;         # text: the edited entry whose text it holds; edited: the newer edit that superseded it
  deleted @11 :Bool;             # the text was deleted for everyone (text is empty)
  # Replies and mentions (docs/protocol.md#replies-and-mentions).
  replyTo @12 :UInt64;           # the seq of the message this one replies to; 0: none
  mentions @13 :List(UInt64);    # group members named as @name, ascending
  quote @14 :Quote;              # replyTo != 0: the original as the reader may see it now
}

struct Quote {
  sender @0 :UInt64;             # 0 when unavailable
  text @1 :Text;                 # the original's latest text, at most 200 code points
  edited @2 :Bool;
  deleted @3 :Bool;              # deleted for everyone since: show "deleted"
  unavailable @4 :Bool;          # outside the reader's membership windows
}

# ---- Client -> node -------------------------------------------------------------------------

struct Hello {
  request @0 :UInt64;
  cursor @1 :UInt64;             # the device holds every inbox entry up to here
}

struct Send {
  request @0 :UInt64;
  channel @1 :UInt64;            # exactly one of channel / peer is non-zero
  peer @2 :UInt64;
  clientMsgId @3 :Text;
  text @4 :Text;
  replyTo @5 :UInt64;            # a text message of the channel this replies to; 0: none
}

struct Ack {
  inboxSeq @0 :UInt64;
}

struct History {
  request @0 :UInt64;
  channel @1 :UInt64;
  beforeSeq @2 :UInt64;          # 0: from the newest
  limit @3 :UInt32 = 50;
}

struct CreateGroup {
  request @0 :UInt64;
  name @1 :Text;
  members @2 :List(UInt64);      # besides the creator
}

struct MemberChange {
  # AddMember and RemoveMember.
  request @0 :UInt64;
  channel @1 :UInt64;
  user @2 :UInt64;
}

struct LeaveGroup {
  request @0 :UInt64;
  channel @1 :UInt64;
}

struct RequestOnly {
  # Logout, ListContacts, UnregisterPushToken: nothing but the request id.
  request @0 :UInt64;
}

struct QueryUnread {
  # Was RequestOnly; `request` keeps its place, so either reads the other.
  request @0 :UInt64;
  after @1 :UInt64;              # counts of channels with a higher id only (paging)
}

struct ListChannels {
  # Was RequestOnly; `request` keeps its place, so either reads the other.
  request @0 :UInt64;
  after @1 :UInt64;              # channels with a higher id only (paging); 0: from the first
  limit @2 :UInt32 = 50;         # 1-100 channels per page
}

struct Heartbeat {}

enum ContactAction {
  add @0 $Json.name("add");
  remove @1 $Json.name("remove");
  block @2 $Json.name("block");
  unblock @3 $Json.name("unblock");
}

struct ChangeContact {
  request @0 :UInt64;
  action @1 :ContactAction;
  user @2 :UInt64;
}

struct QueryPresence {
  request @0 :UInt64;
  users @1 :List(UInt64);
}

struct RegisterPushToken {
  request @0 :UInt64;
  platform @1 :Text;             # "apns", "fcm" or "web"
  token @2 :Text;
}

struct Typing {
  # The user is typing (typing = true, repeated every 3 s while they type) or stopped (false).
  request @0 :UInt64;            # echoed only in a failure: success has no answer
  channel @1 :UInt64;
  typing @2 :Bool = true;
}

struct MarkRead {
  # The user has seen `channel` up to `seq`: their read position there moves up to it.
  request @0 :UInt64;
  channel @1 :UInt64;
  seq @2 :UInt64;                # 1 to the newest seq you may read
}

struct QueryReceipts {
  request @0 :UInt64;
  channel @1 :UInt64;
}

struct EditMessage {
  # Replaces the text of your text message `seq` for everyone; answered by ok.
  request @0 :UInt64;
  channel @1 :UInt64;
  seq @2 :UInt64;
  text @3 :Text;
}

struct DeleteMessage {
  # Deletes text message `seq` for everyone (yours, or any as a group's admin); answered by ok.
  request @0 :UInt64;
  channel @1 :UInt64;
  seq @2 :UInt64;
}

struct MuteChannel {
  # Mutes the channel for forUs µs (1 µs to 366 days) or forever; neither: unmutes it.
  # Answered by ChannelMute.
  request @0 :UInt64;
  channel @1 :UInt64;
  forUs @2 :Int64;
  forever @3 :Bool;
}

enum RequestAnswer {
  accept @0 $Json.name("accept");
  delete @1 $Json.name("delete");
}

struct AnswerRequest {
  # Accepts or deletes a message request (docs/protocol.md "Message requests"). Answered by
  # RequestAnswered.
  request @0 :UInt64;
  channel @1 :UInt64;
  answer @2 :RequestAnswer;
}

struct Search {
  # Full-text search over every text message you may read (docs/protocol.md "Search").
  # Answered by SearchResults.
  request @0 :UInt64;
  query @1 :Text;                # 1 to 256 bytes: every word must occur, the last as a prefix
  offset @2 :UInt32;             # hits to skip (at most 1,000): the page starts after them
  limit @3 :UInt32 = 20;         # hits per page, 1 to 50
}

struct SettingsRequest {
  # Answered by Settings, after changing the settings that are set. Each setting is a union
  # whose first member, Void, leaves it unchanged: what an all-zero struct and a JSON object
  # without the setting read as, so a plain {"settings":{"request":"N"}} only asks. A later
  # setting is another such union beside this one, never a member of it: an older node
  # ignores it rather than refusing the frame.
  request @0 :UInt64;
  union {
    unchanged @1 :Void;          # read receipts stay as they are (JSON: omit readReceipts)
    readReceipts @2 :Bool;       # share read positions (true) or not (false)
  }
}

struct ClientFrame {
  union {
    unset @0 :Void;              # never valid: refused as a malformed frame
    hello @1 :Hello;
    send @2 :Send;
    ack @3 :Ack;
    history @4 :History;
    createGroup @5 :CreateGroup;
    addMember @6 :MemberChange;
    removeMember @7 :MemberChange;
    leaveGroup @8 :LeaveGroup;
    logout @9 :RequestOnly;
    heartbeat @10 :Heartbeat;
    changeContact @11 :ChangeContact;
    listContacts @12 :RequestOnly;
    queryPresence @13 :QueryPresence;
    registerPushToken @14 :RegisterPushToken;
    unregisterPushToken @15 :RequestOnly;
    queryUnread @16 :QueryUnread;
    listChannels @17 :ListChannels;
    typing @18 :Typing;
    markRead @19 :MarkRead;
    queryReceipts @20 :QueryReceipts;
    settings @21 :SettingsRequest;
    editMessage @22 :EditMessage;
    deleteMessage @23 :DeleteMessage;
    muteChannel @24 :MuteChannel;
    answerRequest @25 :AnswerRequest;
    search @26 :Search;
  }
}

# ---- Node -> client -------------------------------------------------------------------------

struct Welcome {
  user @0 :UInt64;
  device @1 :UInt64;
  cursor @2 :UInt64;
  inboxHead @3 :UInt64;
  heartbeatIntervalUs @4 :Int64;
  presenceTimeoutUs @5 :Int64;
}

struct InboxEntry {
  inboxSeq @0 :UInt64;
  message @1 :Message;
}

struct Deliver {
  entries @0 :List(InboxEntry);
}

struct SendAck {
  request @0 :UInt64;
  channel @1 :UInt64;
  seq @2 :UInt64;
  serverTime @3 :Int64;
  duplicate @4 :Bool;
}

struct GroupCreated {
  request @0 :UInt64;
  channel @1 :UInt64;
}

struct HistoryPage {
  request @0 :UInt64;
  channel @1 :UInt64;
  messages @2 :List(Message);    # ascending seq
  hasMore @3 :Bool;
}

struct Failure {
  request @0 :UInt64;            # 0 when the failure answers no request
  code @1 :Text;                 # snake_case, e.g. "not_a_member"
  message @2 :Text;              # for humans; match on `code`
}

struct PresenceEntry {
  user @0 :UInt64;
  online @1 :Bool;
  lastActiveAt @2 :Int64;        # 0: never seen, or no longer visible to you
}

struct PresenceList {
  request @0 :UInt64;            # 0: the snapshot sent right after welcome
  entries @1 :List(PresenceEntry);
}

enum ContactState {
  contact @0 $Json.name("contact");
  blocked @1 $Json.name("blocked");
}

struct ContactEntry {
  user @0 :UInt64;
  name @1 :Text;
  state @2 :ContactState;
  mutual @3 :Bool;
}

struct ContactList {
  request @0 :UInt64;
  contacts @1 :List(ContactEntry);
}

struct ChannelUnread {
  channel @0 :UInt64;
  count @1 :UInt64;
}

struct UnreadCounts {
  request @0 :UInt64;
  total @1 :UInt64;
  channels @2 :List(ChannelUnread);  # non-zero counts, ascending channel
  more @3 :Bool;                 # more counts follow: ask again with after = the last channel
}

enum ChannelKind {
  direct @0 $Json.name("direct");
  group @1 $Json.name("group");
}

struct ChannelMember {
  user @0 :UInt64;
  name @1 :Text;
}

struct ChannelSummary {
  channel @0 :UInt64;
  kind @1 :ChannelKind;
  name @2 :Text;                 # a group's name; "" for a 1:1 channel
  admin @3 :UInt64;              # 0 for a 1:1 channel
  lastSeq @4 :UInt64;            # the newest seq you may read
  active @5 :Bool;               # false once removed from or having left the group
  members @6 :List(ChannelMember);  # active members, ascending user; [] when not active
  readSeq @7 :UInt64;            # your read position here (markRead), the same on every device
  mutedUntil @8 :Int64;          # node time (µs) your timed mute ends; 0: none or forever
  mutedForever @9 :Bool;         # muted until you unmute
  request @10 :Bool;             # a message request for you: no badge, no push
  clearedSeq @11 :UInt64;        # a 1:1 request you deleted: its seqs up to here are cleared
}

struct ChannelList {
  request @0 :UInt64;
  channels @1 :List(ChannelSummary);  # ascending channel
  more @2 :Bool;                 # more channels follow: ask again with after = the last one
}

struct TypingEvent {
  channel @0 :UInt64;
  user @1 :UInt64;               # who is typing
  typing @2 :Bool = true;        # true: show "typing…"; false: hide it now
  ttlUs @3 :Int64;               # hide it after this long unless renewed (6,000,000)
}

struct ReceiptEntry {
  user @0 :UInt64;
  deliveredSeq @1 :UInt64;       # every message up to here is stored on one of their devices
  readSeq @2 :UInt64;            # every message up to here was seen; 0 when not shared
}

struct Receipt {
  # A member's positions in a channel moved (ReceiptEntry's fields, beside the channel).
  channel @0 :UInt64;
  user @1 :UInt64;
  deliveredSeq @2 :UInt64;
  readSeq @3 :UInt64;
}

struct Receipts {
  request @0 :UInt64;
  channel @1 :UInt64;
  entries @2 :List(ReceiptEntry);  # the active members, ascending user
}

struct Settings {
  request @0 :UInt64;            # 0: changed on another of your devices
  readReceipts @1 :Bool = true;
}

struct ChannelMute {
  request @0 :UInt64;            # 0: changed on another of your devices
  channel @1 :UInt64;
  mutedUntil @2 :Int64;          # node time (µs) the mute ends; 0: not muted, or forever
  forever @3 :Bool;
}

struct RequestAnswered {
  request @0 :UInt64;            # 0: answered on another of your devices
  channel @1 :UInt64;
  answer @2 :RequestAnswer;
  clearedSeq @3 :UInt64;         # a 1:1 delete: the newest seq cleared for you; else 0
}

struct SnippetPart {
  text @0 :Text;
  match @1 :Bool;                # a word the query found: highlight it
}

struct SearchHit {
  channel @0 :UInt64;
  seq @1 :UInt64;
  sender @2 :UInt64;
  serverTime @3 :Int64;          # node time (µs) the message was stored
  snippet @4 :List(SnippetPart); # up to ~16 words of its latest text, in order
}

struct SearchResults {
  request @0 :UInt64;
  hits @1 :List(SearchHit);      # best first: BM25 rank, then newest
  more @2 :Bool;                 # more hits follow: ask again with offset + the hits received
}

struct ServerFrame {
  union {
    unset @0 :Void;              # never sent
    welcome @1 :Welcome;
    deliver @2 :Deliver;
    sendAck @3 :SendAck;
    groupCreated @4 :GroupCreated;
    historyPage @5 :HistoryPage;
    ok @6 :RequestOnly;
    failure @7 :Failure;
    presence @8 :PresenceEntry;
    presenceList @9 :PresenceList;
    contactList @10 :ContactList;
    unreadCounts @11 :UnreadCounts;
    channelList @12 :ChannelList;
    typing @13 :TypingEvent;
    receipt @14 :Receipt;
    receipts @15 :Receipts;
    settings @16 :Settings;
    channelMute @17 :ChannelMute;
    requestAnswered @18 :RequestAnswered;
    searchResults @19 :SearchResults;
  }
}
