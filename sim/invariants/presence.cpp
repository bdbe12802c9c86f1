// Invariant 4, presence, replayed over each node's records against a model of presence
// rebuilt from the signs of life the node received: nobody is shown offline while a device
// of theirs showed life within the timeout (each such event is a *flap*), on the node's clock
// and in simulated time (allowing for the fastest node drift), so a node clock that jumps
// cannot pass for time that went by; and a user whose devices all fell silent is shown
// offline within the timeout plus the slack (one tick, batching and the slowest commit).
// A crash keeps who was shown online (it is durable); the restart holds each of them online
// for a full timeout, as if all their devices had just shown life.
#include "sim/invariants/invariant.hpp"

#include <algorithm>
#include <functional>
#include <queue>

namespace parley::sim::invariants {
namespace {

class Presence final : public Invariant {
 public:
  explicit Presence(const Run& run)
      : run_(run),
        config_(run.config),
        models_(run.nodes.size()),
        // The presence timeout in simulated time, at the fastest and the slowest a node's
        // clock may run: the node's clock decides, but a clock that jumps must not pass for
        // one that ran.
        real_timeout_(config_.presence_timeout * 1'000'000 / (1'000'000 + config_.node_drift_ppm)),
        real_timeout_max_(config_.presence_timeout * 1'000'000 /
                          std::max<std::int64_t>(1'000'000 - config_.node_drift_ppm, 1)) {}

  void record(std::size_t i, Report& report) override {
    if (i < skip_) return;  // an append's or an offline's pushes: push.cpp reads them
    const Record& r = run_.history[i];
    if (r.kind == RecordKind::delivered) return;
    if (r.node >= models_.size()) return;
    NodeModel& model = models_[r.node];
    switch (r.kind) {
      case RecordKind::life:
        expire_check(model, r.node_time, r.at, i, report);
        seen(model, r.device, r.user, r.node_time, r.at, i);
        break;
      case RecordKind::logout:
        model.devices[r.device].live = false;
        break;
      case RecordKind::presence:
        expire_check(model, r.node_time, r.at, i, report);
        model.online[r.user] = r.flag;
        if (!r.flag) shown_offline(model, r, i, report);
        break;
      case RecordKind::crash:
        // The node forgot every connection and device; who was shown online is durable.
        model.devices.for_each([](DeviceId, DeviceModel& device) {
          device = DeviceModel{device.user, 0, 0, false, SIZE_MAX};
        });
        break;
      case RecordKind::restart:
        // Everyone shown online is held online for a full timeout from the restart, as if
        // each of their devices had just shown life.
        for (const DeviceRef& device : run_.devices) {
          if (run_.home_of(device.user) != r.node || !model.online[device.user]) continue;
          seen(model, device.device, device.user, r.node_time, r.at, i);
        }
        break;
      default:
        break;
    }
    skip_ = end_of_pushes(run_.history, i);
    // The node's clock as of its latest record (a restart may set it back: it re-anchors on
    // the wall clock).
    if (is_node_record(r.kind)) {
      model.clock = r.node_time;
      model.clock_at = r.at;
    }
  }

  void finish(Report& report) override {
    for (NodeModel& model : models_)
      expire_check(model, model.clock, model.clock_at, run_.history.size() - 1, report);
  }

 private:
  struct DeviceModel {
    UserId user = 0;
    TimeUs last_seen = 0;     // node time
    TimeUs last_seen_at = 0;  // simulated time
    bool live = false;
    std::size_t last_record = SIZE_MAX;  // the record of the last sign of life
  };
  struct Deadline {
    TimeUs at;
    DeviceId device;
    TimeUs last_seen;
    bool operator>(const Deadline& o) const { return at != o.at ? at > o.at : device > o.device; }
  };
  struct NodeModel {
    IdMap<DeviceModel> devices;  // looked up for every sign of life; walked in id order
    std::map<UserId, bool> online;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines;
    TimeUs clock = 0;     // node time of the latest node record
    TimeUs clock_at = 0;  // ... and its simulated time
  };

  // Whether every device of the user has been silent past timeout + slack by both the node's
  // clock (`now`) and simulated time (`now_at`).
  bool user_devices_dead_by(NodeModel& model, UserId user, TimeUs now, TimeUs now_at) const {
    bool dead = true;
    model.devices.for_each([&](DeviceId, const DeviceModel& device) {
      if (device.user != user || !device.live) return;
      if (device.last_seen + config_.presence_timeout + config_.presence_slack >= now ||
          device.last_seen_at + real_timeout_max_ + config_.presence_slack >= now_at) {
        dead = false;
      }
    });
    return dead;
  }

  // Users still shown online whose every device fell silent past timeout + slack by `now`.
  void expire_check(NodeModel& model, TimeUs now, TimeUs now_at, std::size_t index,
                    Report& report) const {
    while (!model.deadlines.empty() && model.deadlines.top().at < now) {
      const Deadline due = model.deadlines.top();
      model.deadlines.pop();
      const DeviceModel* found = model.devices.find(due.device);
      if (found == nullptr || !found->live || found->last_seen != due.last_seen) continue;
      const UserId user = found->user;
      const TimeUs real_deadline = found->last_seen_at + real_timeout_max_ + config_.presence_slack;
      if (real_deadline >= now_at) {
        // Due by the node's clock but not in simulated time (the node's clock jumped): look
        // again once it is.
        model.deadlines.push(
            Deadline{now + (real_deadline - now_at) + 1, due.device, due.last_seen});
        continue;
      }
      if (model.online[user] && user_devices_dead_by(model, user, now, now_at)) {
        // Cite the user's own last sign of life, not the record that happened to bring the
        // deadline up: that one is usually another user's.
        const auto [last_seen, last_record] = last_sign_of_life(model, user);
        report.add(4,
                   "user " + std::to_string(user) + " silent since " + std::to_string(last_seen) +
                       " (node time) is still shown online at " + std::to_string(now) +
                       " (noticed at record " + std::to_string(index) + ")",
                   last_record, "user " + std::to_string(user) + "'s last sign of life");
        model.devices.for_each([&](DeviceId, DeviceModel& device) {
          if (device.user == user) device.live = false;
        });
      }
    }
  }

  // The newest sign of life of any of the user's devices (node time) and its record.
  std::pair<TimeUs, std::size_t> last_sign_of_life(NodeModel& model, UserId user) const {
    std::pair<TimeUs, std::size_t> last{0, SIZE_MAX};
    model.devices.for_each([&](DeviceId, const DeviceModel& device) {
      if (device.user != user || !device.live) return;
      if (last.second == SIZE_MAX || device.last_seen > last.first) {
        last = {device.last_seen, device.last_record};
      }
    });
    return last;
  }

  void seen(NodeModel& model, DeviceId id, UserId user, TimeUs node_time, TimeUs at,
            std::size_t index) const {
    DeviceModel& device = model.devices[id];
    if (node_time >= device.last_seen) device.last_record = index;
    device.user = user;
    device.live = true;
    device.last_seen = std::max(device.last_seen, node_time);
    device.last_seen_at = std::max(device.last_seen_at, at);
    model.deadlines.push(
        Deadline{device.last_seen + config_.presence_timeout + config_.presence_slack, id,
                 device.last_seen});
  }

  // The user is shown offline: a flap if a device of theirs showed life too recently.
  void shown_offline(NodeModel& model, const Record& r, std::size_t i, Report& report) const {
    model.devices.for_each([&](DeviceId id, DeviceModel& device) {
      if (device.user != r.user || !device.live) return;
      // Early by the node's clock, or early in real time (a node clock that jumped).
      const bool early = device.last_seen + config_.presence_timeout > r.node_time ||
                         device.last_seen_at + real_timeout_ - config_.presence_slack > r.at;
      if (early) {
        report.flap();
        report.add(4,
                   "user " + std::to_string(r.user) + " shown offline at " +
                       std::to_string(r.node_time) + " (node time; " + std::to_string(r.at) +
                       " simulated) but device " + std::to_string(id) + " showed life at " +
                       std::to_string(device.last_seen) + " (" +
                       std::to_string(device.last_seen_at) + ")",
                   i, "the offline presence");
      }
      device.live = false;
    });
  }

  const Run& run_;
  const CheckConfig& config_;
  std::vector<NodeModel> models_;
  const TimeUs real_timeout_;
  const TimeUs real_timeout_max_;
  std::size_t skip_ = 0;  // records before this one were read ahead with an earlier record
};

}  // namespace

std::unique_ptr<Invariant> presence(const Run& run) {
  return std::make_unique<Presence>(run);
}

}  // namespace parley::sim::invariants
