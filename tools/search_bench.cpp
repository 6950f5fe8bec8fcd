// monochat-search-bench: indexing throughput and search latency of the real search index
// (storage/search_index.hpp: SQLite FTS5 with monochat's tokenizer) over generated messages,
// half English and half Chinese, spread over conversations like a chat server's.
//
//   monochat-search-bench [--messages N] [--conversations C] [--queries Q] [--batch B]
//                         [--scope S] [--dir DIR] [--keep]
//
// Indexing goes through search_index::apply in batches of B messages, each with its positions,
// exactly as the indexer writes them. Then Q queries of each kind run one after another with a
// user's scope (world and S groups), through parse_search_query and search_index::search, and
// their latency is reported as p50/p99. Words follow a Zipf distribution, so "common" words
// match a large share of the messages and "rare" ones a handful.

#include <fmt/format.h>
#include <stdlib.h>  // mkdtemp
#include <time.h>    // clock_gettime

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/search_index.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace monochat;
using clock_type = std::chrono::steady_clock;

struct options {
    std::size_t messages = 1'000'000;
    std::size_t conversations = 1000;
    std::size_t queries = 300;
    std::size_t batch = 1024;
    std::size_t scope = 20;
    std::string dir;
    bool keep = false;
};

// Zipf(s = 1) over ranks 0..n-1 by inverse CDF.
class zipf {
public:
    explicit zipf(std::size_t n) : cdf_(n) {
        double sum = 0;
        for (std::size_t r = 0; r < n; ++r) {
            sum += 1.0 / static_cast<double>(r + 1);
            cdf_[r] = sum;
        }
        for (auto& c : cdf_) {
            c /= sum;
        }
    }
    std::size_t operator()(std::mt19937_64& rng) const {
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    }

private:
    std::vector<double> cdf_;
};

// The English vocabulary: common words first, then made-up words from syllables.
std::vector<std::string> english_words(std::size_t n) {
    static const char* common[] = {
        "the", "be", "to", "of", "and", "a", "in", "that", "have", "i", "it", "for", "not", "on",
        "with", "he", "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we",
        "say", "her", "she", "or", "an", "will", "my", "one", "all", "would", "there", "their",
        "what", "so", "up", "out", "if", "about", "who", "get", "which", "go", "me", "when",
        "make", "can", "like", "time", "no", "just", "him", "know", "take", "people", "into",
        "year", "your", "good", "some", "could", "them", "see", "other", "than", "then", "now",
        "look", "only", "come", "its", "over", "think", "also", "back", "after", "use", "two",
        "how", "our", "work", "first", "well", "way", "even", "new", "want", "because", "any",
        "these", "give", "day", "most", "us", "meeting", "coffee", "lunch", "deploy", "server",
        "release", "bug", "review", "tomorrow", "tonight", "weekend", "ticket", "build", "test",
        "café", "naïve", "résumé", "Zürich", "München", "São", "Paulo", "Kraków", "Łódź"};
    static const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po",
                                      "dra", "shi", "tan", "bel", "cor", "fin", "gul", "har"};
    std::vector<std::string> out(std::begin(common), std::end(common));
    for (std::size_t r = out.size(); out.size() < n; ++r) {
        std::string w;
        for (std::size_t x = r; x > 0 || w.empty(); x /= 18) {
            w += syllables[x % 18];
        }
        out.push_back(std::move(w));
    }
    return out;
}

// Chinese "words": pairs of common characters, the most frequent first.
std::vector<std::string> chinese_words(std::size_t n) {
    const std::string chars =
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
        "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本"
        "见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己"
        "话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平"
        "真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报"
        "立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务"
        "制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科"
        "怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武";
    std::vector<std::string> glyphs;
    for (std::size_t i = 0; i < chars.size(); i += 3) {
        glyphs.push_back(chars.substr(i, 3));
    }
    std::vector<std::string> out;
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::size_t> pick(0, glyphs.size() - 1);
    out.push_back("北京");
    out.push_back("今天");
    out.push_back("我们");
    while (out.size() < n) {
        out.push_back(glyphs[pick(rng)] + glyphs[pick(rng)]);
    }
    return out;
}

struct corpus {
    std::vector<std::string> en = english_words(50000);
    std::vector<std::string> zh = chinese_words(20000);
    zipf en_zipf{en.size()};
    zipf zh_zipf{zh.size()};

    std::string english(std::mt19937_64& rng) const {
        const std::size_t n = 6 + rng() % 15;
        std::string s;
        for (std::size_t i = 0; i < n; ++i) {
            if (i != 0) {
                s += rng() % 10 == 0 ? ", " : " ";
            }
            std::string w = en[en_zipf(rng)];
            if (i == 0 && !w.empty() && w[0] >= 'a' && w[0] <= 'z') {
                w[0] = static_cast<char>(w[0] - 'a' + 'A');
            }
            s += w;
        }
        return s + (rng() % 3 == 0 ? "?" : ".");
    }

    std::string chinese(std::mt19937_64& rng) const {
        const std::size_t n = 4 + rng() % 10;
        std::string s;
        for (std::size_t i = 0; i < n; ++i) {
            s += zh[zh_zipf(rng)];
            if (rng() % 6 == 0) {
                s += "，";
            }
        }
        return s + "。";
    }
};

std::string conversation_of(std::size_t k) {
    return k == 0 ? std::string("world") : "group:" + std::to_string(k);
}

// CPU time of the calling thread: on a shared machine, wall time measures the neighbours too.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    return v[std::min(i, v.size() - 1)];
}

bool parse_args(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const auto number = [&](std::size_t& out) {
            const char* v = next();
            if (v == nullptr) {
                return false;
            }
            out = static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
            return out > 0;
        };
        if (a == "--messages") {
            if (!number(o.messages)) {
                return false;
            }
        } else if (a == "--conversations") {
            if (!number(o.conversations)) {
                return false;
            }
        } else if (a == "--queries") {
            if (!number(o.queries)) {
                return false;
            }
        } else if (a == "--batch") {
            if (!number(o.batch)) {
                return false;
            }
        } else if (a == "--scope") {
            if (!number(o.scope)) {
                return false;
            }
        } else if (a == "--dir") {
            const char* v = next();
            if (v == nullptr) {
                return false;
            }
            o.dir = v;
        } else if (a == "--keep") {
            o.keep = true;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse_args(argc, argv, o)) {
        std::fprintf(stderr,
                     "usage: monochat-search-bench [--messages N] [--conversations C] "
                     "[--queries Q] [--batch B] [--scope S] [--dir DIR] [--keep]\n");
        return 2;
    }
    namespace fs = std::filesystem;
    bool made_dir = false;
    if (o.dir.empty()) {
        std::string pattern = (fs::temp_directory_path() / "monochat-search-bench-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            return 1;
        }
        o.dir = pattern;
        made_dir = true;
    }
    const std::string path = (fs::path(o.dir) / "search.db").string();
    infra::metrics_registry metrics;
    storage::sqlite_search_index_options io;
    io.path = path;
    auto opened = storage::open_sqlite_search_index(io, metrics);
    if (!opened) {
        std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), opened.error().message.c_str());
        return 1;
    }
    auto index = std::move(*opened);

    const corpus c;
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> seqs(o.conversations, 0);
    // Phrases and words that occur in the data, for the phrase queries.
    std::vector<std::string> en_phrases;
    std::vector<std::string> zh_phrases;

    fmt::print("indexing {} messages ({} conversations, batches of {}) into {}\n", o.messages,
               o.conversations, o.batch, path);
    std::size_t bytes = 0;
    double index_seconds = 0;
    double index_cpu_seconds = 0;
    std::size_t done = 0;
    while (done < o.messages) {
        storage::search_batch b;
        std::vector<std::pair<std::size_t, std::uint64_t>> reach;
        const std::size_t n = std::min(o.batch, o.messages - done);
        for (std::size_t k = 0; k < n; ++k, ++done) {
            // A tenth of the traffic in world, the rest spread over the groups.
            const std::size_t conv = rng() % 10 == 0 ? 0 : 1 + rng() % (o.conversations - 1);
            const bool chinese = rng() % 2 == 0;
            std::string text = chinese ? c.chinese(rng) : c.english(rng);
            if (done % 997 == 0) {
                // Remember a real phrase: the first two words (English) or 4 characters.
                if (chinese) {
                    zh_phrases.push_back(text.substr(0, 12));
                } else {
                    const auto second = text.find(' ', text.find(' ') + 1);
                    en_phrases.push_back(text.substr(0, second));
                }
            }
            bytes += text.size();
            const std::uint64_t seq = ++seqs[conv];
            b.changes.push_back({storage::search_change_kind::add, conversation_of(conv), seq,
                                 done + 1, std::move(text)});
            reach.emplace_back(conv, seq);
        }
        for (const auto& [conv, seq] : reach) {
            b.positions.emplace_back(conversation_of(conv), seq);
        }
        const auto t0 = clock_type::now();
        const double cpu0 = thread_cpu_seconds();
        if (auto st = index->apply(b); !st) {
            std::fprintf(stderr, "apply failed: %s\n", st.error().message.c_str());
            return 1;
        }
        index_cpu_seconds += thread_cpu_seconds() - cpu0;
        index_seconds += std::chrono::duration<double>(clock_type::now() - t0).count();
        if (done % 100000 < o.batch) {
            fmt::print("  {:>8} messages, {:>8.0f} messages/s so far\n", done,
                       static_cast<double>(done) / index_seconds);
            std::fflush(stdout);
        }
    }
    std::error_code ec;
    auto file_bytes = fs::file_size(path, ec);
    if (fs::exists(path + "-wal")) {
        file_bytes += fs::file_size(path + "-wal", ec);
    }
    fmt::print("indexed {} messages ({:.0f} MiB of text) in {:.1f} s: {:.0f} messages/s; "
               "{:.1f} s of CPU: {:.0f} messages per CPU second; search.db {:.0f} MiB\n",
               o.messages, static_cast<double>(bytes) / (1 << 20), index_seconds,
               static_cast<double>(o.messages) / index_seconds, index_cpu_seconds,
               static_cast<double>(o.messages) / index_cpu_seconds,
               static_cast<double>(file_bytes) / (1 << 20));

    // ---- queries ----
    struct kind {
        std::string name;
        std::function<std::string(std::mt19937_64&)> make;
    };
    const auto en_rank = [&](std::size_t lo, std::size_t hi) {
        return [&c, lo, hi](std::mt19937_64& r) { return c.en[lo + r() % (hi - lo)]; };
    };
    const auto zh_rank = [&](std::size_t lo, std::size_t hi) {
        return [&c, lo, hi](std::mt19937_64& r) { return c.zh[lo + r() % (hi - lo)]; };
    };
    const std::vector<kind> kinds = {
        {"common word (rank 5-50)", en_rank(5, 50)},
        {"mid word (rank 200-2000)", en_rank(200, 2000)},
        {"rare word (rank 10k-50k)", en_rank(10000, 50000)},
        {"two mid words", [&](std::mt19937_64& r) { return en_rank(200, 2000)(r) + " " + en_rank(200, 2000)(r); }},
        {"English phrase", [&](std::mt19937_64& r) { return "\"" + en_phrases[r() % en_phrases.size()] + "\""; }},
        // Made-up words only (ranks from 200): ASCII, so three bytes are three letters.
        {"prefix (3 letters*)", [&](std::mt19937_64& r) { return en_rank(200, 3000)(r).substr(0, 3) + "*"; }},
        {"Chinese 2-char word", zh_rank(20, 2000)},
        {"Chinese 4-char phrase", [&](std::mt19937_64& r) { return zh_phrases[r() % zh_phrases.size()]; }},
        {"Chinese 1 char", [&](std::mt19937_64& r) { return zh_rank(0, 2000)(r).substr(0, 3); }},
    };
    boost::asio::thread_pool pool(1);
    std::mt19937_64 qrng(99);
    const auto run_query = [&](const std::string& q, bool all, std::size_t& hits) -> double {
        const auto t0 = clock_type::now();
        auto parsed = storage::parse_search_query(q);
        if (!parsed) {
            std::fprintf(stderr, "query %s: %s\n", q.c_str(), parsed.error().message.c_str());
            return -1;
        }
        storage::search_request r;
        r.query = std::move(*parsed);
        r.limit = 50;
        r.scope.all = all;
        if (!all) {
            r.scope.conversations.push_back("world");
            for (std::size_t i = 0; i < o.scope; ++i) {
                r.scope.conversations.push_back(conversation_of(1 + qrng() % (o.conversations - 1)));
            }
        }
        auto res = boost::asio::co_spawn(pool, index->search(std::move(r)), boost::asio::use_future).get();
        const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        if (!res) {
            std::fprintf(stderr, "query %s failed: %s\n", q.c_str(), res.error().message.c_str());
            return -1;
        }
        hits += res->size();
        return ms;
    };

    fmt::print("\n{} queries per kind, limit 50, scope: world + {} groups (a user's view); "
               "then every conversation\n",
               o.queries, o.scope);
    fmt::print("{:<26} {:>9} {:>9} {:>9} {:>9} {:>11}\n", "query", "p50 ms", "p99 ms", "all p50",
               "all p99", "hits/query");
    std::vector<double> overall;
    std::vector<double> overall_all;
    for (const auto& k : kinds) {
        std::vector<double> lat;
        std::vector<double> lat_all;
        std::size_t hits = 0;
        std::size_t hits_all = 0;
        for (std::size_t i = 0; i < o.queries; ++i) {
            const std::string q = k.make(qrng);
            const double a = run_query(q, false, hits);
            const double b = run_query(q, true, hits_all);
            if (a < 0 || b < 0) {
                return 1;
            }
            lat.push_back(a);
            lat_all.push_back(b);
        }
        overall.insert(overall.end(), lat.begin(), lat.end());
        overall_all.insert(overall_all.end(), lat_all.begin(), lat_all.end());
        fmt::print("{:<26} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>11.1f}\n", k.name,
                   percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat_all, 0.5),
                   percentile(lat_all, 0.99), static_cast<double>(hits) / static_cast<double>(o.queries));
    }
    fmt::print("{:<26} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f}\n", "all kinds", percentile(overall, 0.5),
               percentile(overall, 0.99), percentile(overall_all, 0.5),
               percentile(overall_all, 0.99));

    index.reset();
    if (made_dir && !o.keep) {
        fs::remove_all(o.dir, ec);
    }
    return 0;
}
