// Tables keyed by the simulator's ids (connections, devices), for its hot lookups: every
// frame finds its link, every input asks whether its connection is bound, the checker looks
// a device up for every record. The ids are handed out from 1 up, so a vector indexed by id
// does what a tree did, without a pointer chase per level; walking it visits ids in
// increasing order, as the tree did (no hash order: sim/ keeps ordered containers). Ids
// past kDense (a hand-written history may use any) fall back to a tree.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace parley::sim {

template <typename T>
class IdMap {
 public:
  // nullptr when `id` is not in the map.
  T* find(std::uint64_t id) {
    if (id >= kDense) {
      const auto found = sparse_.find(id);
      return found == sparse_.end() ? nullptr : &found->second;
    }
    return id < dense_.size() && dense_[id] ? &*dense_[id] : nullptr;
  }
  const T* find(std::uint64_t id) const { return const_cast<IdMap*>(this)->find(id); }
  // The entry for `id`, default-constructed if absent.
  T& operator[](std::uint64_t id) {
    if (id >= kDense) return sparse_[id];
    if (id >= dense_.size()) dense_.resize(id + 1);
    if (!dense_[id]) dense_[id].emplace();
    return *dense_[id];
  }
  void put(std::uint64_t id, T value) { (*this)[id] = std::move(value); }
  void erase(std::uint64_t id) {
    if (id >= kDense) {
      sparse_.erase(id);
    } else if (id < dense_.size()) {
      dense_[id].reset();
    }
  }
  // fn(id, value) for every entry, in increasing id order.
  template <typename F>
  void for_each(F&& fn) {
    for (std::uint64_t id = 0; id < dense_.size(); ++id) {
      if (dense_[id]) fn(id, *dense_[id]);
    }
    for (auto& [id, value] : sparse_)
      fn(id, value);
  }
  template <typename F>
  void for_each(F&& fn) const {
    const_cast<IdMap*>(this)->for_each([&](std::uint64_t id, const T& value) { fn(id, value); });
  }

 private:
  static constexpr std::uint64_t kDense = 1u << 22;
  std::vector<std::optional<T>> dense_;
  std::map<std::uint64_t, T> sparse_;
};

// A set of ids, for connection ids (handed out in order, never reused).
class IdSet {
 public:
  bool contains(std::uint64_t id) const { return map_.find(id) != nullptr; }
  void insert(std::uint64_t id) {
    if (!contains(id)) ++size_;
    map_[id] = true;
  }
  // Whether `id` was in the set.
  bool erase(std::uint64_t id) {
    if (!contains(id)) return false;
    map_.erase(id);
    --size_;
    return true;
  }
  void clear() {
    map_ = {};
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  // The ids in the set, in increasing order.
  std::vector<std::uint64_t> ids() const {
    std::vector<std::uint64_t> out;
    map_.for_each([&](std::uint64_t id, bool) { out.push_back(id); });
    return out;
  }

 private:
  IdMap<bool> map_;
  std::size_t size_ = 0;
};

}  // namespace parley::sim
