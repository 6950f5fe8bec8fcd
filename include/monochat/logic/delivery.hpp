#pragma once
// Deliveries to gateway are part of the bus's topic schema (monochat/bus/topics.hpp), shared by
// logic and task; these names keep logic code short.

#include <monochat/bus/topics.hpp>

namespace monochat::logic {

inline constexpr std::string_view downstream_topic = bus::downstream_topic;
using bus::decode_delivery;
using bus::delivery;
using bus::delivery_kind;
using bus::encode_delivery;

}  // namespace monochat::logic
