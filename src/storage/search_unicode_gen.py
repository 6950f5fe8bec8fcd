#!/usr/bin/env python3
"""Generates src/storage/search_unicode_data.cpp: the character classes and the folding table of
the search tokenizer (search_tokenizer.hpp), from the Unicode database of the running Python
(Python 3.11: Unicode 14.0). The output is committed, so building needs no Python; rerun this
after a change of the rules below:

    python3 src/storage/search_unicode_gen.py > src/storage/search_unicode_data.cpp

Rules (docs/protocol.md, "Search", says the same for users):
- word: letters, digits and marks (categories L*, N*, M*) of every script not listed below;
  words are runs of them.
- bigram: letters, digits and marks of the scripts written without spaces between words (Han,
  Hiragana, Katakana, Bopomofo, Hangul, Yi, Thai, Lao, Khmer, Myanmar), plus the ideographic
  iteration and number marks. Runs of them are indexed as overlapping pairs of characters.
- ignore: combining diacritics (U+0300-036F and the other combining-diacritic blocks), Hebrew
  points, Arabic harakat, soft hyphen, zero-width joiners and variation selectors: skipped
  without ending a word, so decomposed text (e + U+0301) folds like precomposed text (U+00E9).
- separator: everything else (spaces, punctuation, symbols, emoji, controls, unassigned).

Folding of word characters: compatibility decomposition (NFKD: fullwidth letters, ligatures,
superscripts, Arabic and Hebrew presentation forms), full case folding (casefold: A->a, ss for
sharp s, final sigma), then every ignore-class mark removed (accents of Latin, Greek and
Cyrillic letters: e-acute->e, alpha-tonos->alpha, io->ie), the Latin letters with a stroke or
ligature of LATIN_EXTRA folded to ASCII (o-slash->o, l-stroke->l, ae->ae), and decimal digits of
any script become ASCII digits. Bigram characters fold only by NFKC of single characters (halfwidth
katakana -> katakana, CJK compatibility ideographs -> unified ideographs).
"""

import sys
import unicodedata

SEPARATOR, WORD, BIGRAM, IGNORE = 0, 1, 2, 3
CLASS_NAMES = {SEPARATOR: "separator", WORD: "word", BIGRAM: "bigram", IGNORE: "ignore"}

BIGRAM_NAME_PREFIXES = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HIRAGANA",
    "KATAKANA",
    "HALFWIDTH KATAKANA",
    "COMBINING KATAKANA-HIRAGANA",
    "BOPOMOFO",
    "HANGUL",
    "HALFWIDTH HANGUL",
    "YI SYLLABLE",
    "THAI",
    "LAO",
    "KHMER",
    "MYANMAR",
    "IDEOGRAPHIC",
    "VERTICAL KANA",
)

IGNORE_RANGES = (
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x0483, 0x0489),  # Cyrillic combining titlo and friends
    (0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7),
    (0x064B, 0x065F), (0x0670, 0x0670),  # Arabic harakat, superscript alef
    (0x1AB0, 0x1AFF),  # Combining Diacritical Marks Extended
    (0x1DC0, 0x1DFF),  # Combining Diacritical Marks Supplement
    (0x20D0, 0x20FF),  # Combining Diacritical Marks for Symbols
    (0xFE20, 0xFE2F),  # Combining Half Marks
    (0x00AD, 0x00AD),  # soft hyphen
    (0x200C, 0x200D),  # zero-width non-joiner and joiner
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0100, 0xE01EF),
)


def in_ranges(cp, ranges):
    return any(lo <= cp <= hi for lo, hi in ranges)


def classify(cp):
    if 0xD800 <= cp <= 0xDFFF:
        return SEPARATOR
    if in_ranges(cp, IGNORE_RANGES):
        return IGNORE
    ch = chr(cp)
    cat = unicodedata.category(ch)
    if cat[0] not in "LMN":
        return SEPARATOR
    name = unicodedata.name(ch, "")
    if name.startswith(BIGRAM_NAME_PREFIXES):
        return BIGRAM
    return WORD


CLASS = [classify(cp) for cp in range(0x110000)]


# Latin letters that carry their diacritic inside the letter (a stroke, a ligature) and so have
# no decomposition, folded like Lucene's ASCIIFoldingFilter folds them.
LATIN_EXTRA = {
    "ø": "o", "æ": "ae", "ð": "d", "þ": "th",                      # Latin-1 Supplement
    "đ": "d", "ħ": "h", "ı": "i", "ĸ": "q", "ł": "l", "ŋ": "n",    # Latin Extended-A
    "œ": "oe", "ŧ": "t",
    "ƀ": "b", "ƈ": "c", "ƌ": "d", "ƒ": "f", "ǥ": "g", "ɨ": "i",    # Latin Extended-B
    "ƙ": "k", "ƚ": "l", "ƞ": "n", "ƥ": "p", "ƫ": "t", "ƭ": "t",
    "ʉ": "u", "ƴ": "y", "ƶ": "z", "ȼ": "c", "ɇ": "e", "ɉ": "j",
    "ɍ": "r", "ɏ": "y", "ȥ": "z", "ȡ": "d", "ȴ": "l", "ȵ": "n", "ȶ": "t",
}


def fold_word(cp):
    ch = chr(cp)
    s = unicodedata.normalize("NFKD", ch)
    s = unicodedata.normalize("NFKD", s.casefold())
    out = []
    for c in s:
        k = CLASS[ord(c)]
        if k in (IGNORE, SEPARATOR):
            # Separators inside a compatibility form (the middle dot of U+0140, the
            # parentheses of U+2474) would split the token: they go like the accents.
            continue
        d = unicodedata.decimal(c, None)
        out.append(str(d) if d is not None else LATIN_EXTRA.get(c, c))
    folded = "".join(out)
    if not folded:
        return None
    return folded


def fold_bigram(cp):
    ch = chr(cp)
    s = unicodedata.normalize("NFKC", ch)
    if len(s) != 1 or CLASS[ord(s)] != BIGRAM:
        return None
    return s


def main():
    folds = []
    for cp in range(0x110000):
        k = CLASS[cp]
        if k == WORD:
            f = fold_word(cp)
        elif k == BIGRAM:
            f = fold_bigram(cp)
        else:
            f = None
        if f is not None and f != chr(cp):
            folds.append((cp, f.encode("utf-8")))

    ranges = []
    for cp, k in enumerate(CLASS):
        if not ranges or ranges[-1][1] != k:
            ranges.append((cp, k))

    pool = bytearray()
    entries = []
    for cp, b in folds:
        assert len(b) < 256
        entries.append((cp, len(pool), len(b)))
        pool += b

    w = sys.stdout.write
    w("// Generated by src/storage/search_unicode_gen.py from the Unicode %s database: do not edit.\n"
      % unicodedata.unidata_version)
    w("// The rules are in that script's docstring.\n\n")
    w('#include "storage/search_unicode.hpp"\n\n')
    w("#include <algorithm>\n#include <cstdint>\n#include <iterator>\n\n")
    w("namespace monochat::storage::search {\n\nnamespace {\n\n")
    w("struct class_range {\n    std::uint32_t first;\n    char_class cls;\n};\n\n")
    w("// Each entry holds from `first` up to the next entry's first.\n")
    w("constexpr class_range class_ranges[] = {\n")
    for cp, k in ranges:
        w("    {0x%X, char_class::%s},\n" % (cp, CLASS_NAMES[k]))
    w("};\n\n")
    w("struct fold_entry {\n    std::uint32_t cp;\n    std::uint32_t offset;\n    std::uint8_t size;\n};\n\n")
    w("constexpr fold_entry fold_entries[] = {\n")
    for cp, off, n in entries:
        w("    {0x%X, %d, %d},\n" % (cp, off, n))
    w("};\n\n")
    w("// The UTF-8 of every folded form, back to back.\n")
    w("constexpr char fold_pool[] =\n")
    line = ""
    for byte in pool:
        piece = "\\x%02X" % byte
        if len(line) + len(piece) > 88:
            w('    "%s"\n' % line)
            line = ""
        line += piece
    if line:
        w('    "%s"\n' % line)
    w("    ;\n\n}  // namespace\n\n")
    w("char_class classify_slow(char32_t cp) noexcept {\n")
    w("    if (cp > 0x10FFFF) {\n        return char_class::separator;\n    }\n")
    w("    const auto* it = std::upper_bound(std::begin(class_ranges), std::end(class_ranges), cp,\n")
    w("                                      [](char32_t c, const class_range& r) { return c < r.first; });\n")
    w("    return std::prev(it)->cls;\n}\n\n")
    w("std::string_view fold_slow(char32_t cp) noexcept {\n")
    w("    const auto* it = std::lower_bound(std::begin(fold_entries), std::end(fold_entries), cp,\n")
    w("                                      [](const fold_entry& e, char32_t c) { return e.cp < c; });\n")
    w("    if (it == std::end(fold_entries) || it->cp != cp) {\n        return {};\n    }\n")
    w("    return {fold_pool + it->offset, it->size};\n}\n\n")
    w("}  // namespace monochat::storage::search\n")
    sys.stderr.write("%d class ranges, %d folds, %d pool bytes\n" % (len(ranges), len(entries), len(pool)))


if __name__ == "__main__":
    main()
