#include "gateway/json_util.hpp"

#include <limits>
#include <monochat/infra/json_depth.hpp>
#include <monochat/logic/access.hpp>

namespace monochat::gateway::json_util {

namespace {

error invalid(std::string message) { return make_error(errc::invalid_argument, std::move(message)); }

// The field's value, or nullptr when it is absent or null.
const json* find(const json& object, std::string_view field) {
    const auto it = object.find(field);
    if (it == object.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

error missing(std::string_view field) {
    return invalid(std::string(field) + " is required");
}
error must_be(std::string_view field, std::string_view what) {
    return invalid(std::string(field) + " must be " + std::string(what));
}

// json converts implicitly to anything (error included), so the value is placed explicitly.
result<json> as_result(json j) { return result<json>(boost::system::in_place_value, std::move(j)); }

}  // namespace

result<json> parse_object(std::string_view body, bool empty_is_object) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        if (empty_is_object) {
            return as_result(json::object());
        }
        return invalid("the body must be a JSON object");
    }
    if (infra::json_nesting_exceeds(body)) {
        return invalid(std::string(infra::json_too_deep_message));
    }
    // No exceptions: a parse error gives a discarded value.
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) {
        return invalid("the body is not valid JSON");
    }
    if (!j.is_object()) {
        return invalid("the body must be a JSON object");
    }
    return as_result(std::move(j));
}

result<std::optional<std::int64_t>> optional_integer(const json& object, std::string_view field) {
    const json* v = find(object, field);
    if (v == nullptr) {
        return std::optional<std::int64_t>{};
    }
    if (v->is_number_unsigned()) {
        const auto u = v->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return must_be(field, "an integer in range");
        }
        return std::optional<std::int64_t>{static_cast<std::int64_t>(u)};
    }
    if (!v->is_number_integer()) {
        return must_be(field, "an integer");
    }
    return std::optional<std::int64_t>{v->get<std::int64_t>()};
}

result<std::string> required_string(const json& object, std::string_view field) {
    const json* v = find(object, field);
    if (v == nullptr) {
        return missing(field);
    }
    if (!v->is_string()) {
        return must_be(field, "a string");
    }
    return v->get<std::string>();
}

result<std::optional<std::string>> optional_string(const json& object, std::string_view field) {
    const json* v = find(object, field);
    if (v == nullptr) {
        return std::optional<std::string>();
    }
    if (!v->is_string()) {
        return must_be(field, "a string");
    }
    return std::optional<std::string>(v->get<std::string>());
}

result<std::optional<bool>> optional_bool(const json& object, std::string_view field) {
    const json* v = find(object, field);
    if (v == nullptr) {
        return std::optional<bool>();
    }
    if (!v->is_boolean()) {
        return must_be(field, "true or false");
    }
    return std::optional<bool>(v->get<bool>());
}

result<std::uint64_t> required_id(const json& object, std::string_view field) {
    const json* v = find(object, field);
    if (v == nullptr) {
        return missing(field);
    }
    if (!v->is_string()) {
        return must_be(field, "a decimal id string");
    }
    return logic::parse_id(v->get_ref<const std::string&>(), field);
}

result<std::vector<std::uint64_t>> id_array(const json& object, std::string_view field,
                                            bool required) {
    const json* v = find(object, field);
    std::vector<std::uint64_t> out;
    if (v == nullptr) {
        if (required) {
            return missing(field);
        }
        return out;
    }
    if (!v->is_array()) {
        return must_be(field, "an array of decimal id strings");
    }
    out.reserve(v->size());
    for (std::size_t i = 0; i < v->size(); ++i) {
        const json& item = (*v)[i];
        const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
        if (!item.is_string()) {
            return must_be(name, "a decimal id string");
        }
        auto id = logic::parse_id(item.get_ref<const std::string&>(), name);
        if (!id) {
            return id.error();
        }
        out.push_back(*id);
    }
    return out;
}

result<std::uint64_t> required_unsigned(const json& object, std::string_view field) {
    const json* v = find(object, field);
    if (v == nullptr) {
        return missing(field);
    }
    // nlohmann stores every non-negative integer literal as unsigned; negative numbers,
    // fractions and numbers past 2^64-1 (stored as floating point) are refused.
    if (!v->is_number_unsigned()) {
        return must_be(field, "a non-negative integer");
    }
    return v->get<std::uint64_t>();
}

std::string quote(std::string_view text) {
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

object_writer& object_writer::raw(std::string_view key, std::string_view json_text) {
    if (out_.size() > 1) {
        out_ += ',';
    }
    out_ += quote(key);
    out_ += ':';
    out_ += json_text;
    return *this;
}

object_writer& object_writer::string(std::string_view key, std::string_view text) {
    return raw(key, quote(text));
}

object_writer& object_writer::array(std::string_view key,
                                    const std::vector<std::string>& json_texts) {
    std::string a = "[";
    for (std::size_t i = 0; i < json_texts.size(); ++i) {
        if (i > 0) {
            a += ',';
        }
        a += json_texts[i];
    }
    a += ']';
    return raw(key, a);
}

std::string object_writer::finish() {
    out_ += '}';
    return std::move(out_);
}

}  // namespace monochat::gateway::json_util
