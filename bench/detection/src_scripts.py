"""Benign emoji-rich, right-to-left, CJK, Indic and combining-mark text.

Words come from Faker's lorem providers (MIT; word lists of real text in each language) and emoji
sequences are built from Unicode data (ZWJ families and professions, skin tones, flags including
subdivision tag sequences, keycaps, VS16 presentation). Deterministic (seeded)."""

from __future__ import annotations

import importlib
import random
import sys
from collections.abc import Iterator

from bench.detection.cache import pip_package
from bench.detection.records import BENIGN, Record, record

LOCALES = ["ar_AA", "he_IL", "fa_IR", "ja_JP", "zh_CN", "zh_TW", "hy_AM", "el_GR", "ru_RU", "uk_UA", "th_TH",
           "hi_IN", "bn_BD", "ko_KR", "vi_VN", "de_DE", "pl_PL", "la"]
ZWJ, VS16 = "\u200d", "\ufe0f"
PEOPLE = ["\U0001F468", "\U0001F469", "\U0001F467", "\U0001F466", "\U0001F9D1"]
OBJECTS = ["\U0001F4BB", "\U0001F52C", "\U0001F680", "\U0001F373", "\U0001F3A8", "\u2695" + VS16, "\u2708" + VS16]
TONES = [chr(c) for c in range(0x1F3FB, 0x1F400)]
FLAGS = ["GB", "FR", "JP", "IR", "IL", "SA", "IN", "BR", "UA", "KR"]
SUBDIVISIONS = ["gbeng", "gbsct", "gbwls", "usca"]
SIMPLE = ["\u2764" + VS16, "\U0001F44D", "\U0001F389", "\u2705", "\U0001F525", "\U0001F60A", "\u2728", "\u2600" + VS16,
          "\U0001F3F3" + VS16 + ZWJ + "\U0001F308", "\u2764" + VS16 + ZWJ + "\U0001F525", "#" + VS16 + "\u20e3",
          "1" + VS16 + "\u20e3", "\U0001F3F4" + ZWJ + "\u2620" + VS16]


def _emoji(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return ZWJ.join(rng.sample(PEOPLE[:4], rng.randint(2, 4)))
    if kind == 1:
        return rng.choice(PEOPLE) + rng.choice(TONES) + ZWJ + rng.choice(OBJECTS)
    if kind == 2:
        return "".join(chr(0x1F1E6 + ord(c) - 65) for c in rng.choice(FLAGS))
    if kind == 3:
        tag = rng.choice(SUBDIVISIONS)
        return "\U0001F3F4" + "".join(chr(0xE0000 + ord(c)) for c in tag) + "\U000E007F"
    return rng.choice(SIMPLE) + (rng.choice(TONES) if rng.random() < 0.2 else "")


def _words(locale: str) -> list[str]:
    module = importlib.import_module(f"faker.providers.lorem.{locale}")
    words = getattr(module.Provider, "word_list", ())
    return [w for w in words if w.strip()]


def records() -> Iterator[Record]:
    root = pip_package("faker")
    if root is None:
        return
    sys.path.insert(0, str(root))
    rng = random.Random(5)  # noqa: S311 - reproducible corpus, not cryptography
    english = "the team shipped a release today and everyone is happy with the results".split()  # noqa: SIM905
    for locale in LOCALES:
        try:
            words = _words(locale)
        except Exception as exc:  # a locale missing from this Faker version is skipped
            print(f"bench: faker {locale}: {exc}", file=sys.stderr)
            continue
        sep = "" if locale.startswith(("ja", "zh", "th")) else " "
        for n in range(60):
            sentences = []
            for _ in range(rng.randint(2, 6)):
                sentence = sep.join(rng.choice(words) for _ in range(rng.randint(5, 14)))
                if rng.random() < 0.3:
                    sentence += f" {rng.randint(1, 2026)} {rng.choice(['km', 'kg', '%', 'USD'])}"
                if rng.random() < 0.3:
                    sentence += " " + _emoji(rng)
                sentences.append(sentence)
            text = (". " if sep else "。").join(sentences)
            if n % 3 == 0:
                text += "\n" + " ".join(rng.choice(english) for _ in range(8))
            yield record("faker", f"scripts.{locale}", BENIGN, None, "tool_result", text)
    for _ in range(300):
        text = " ".join(rng.choice(english) + (" " + _emoji(rng) if rng.random() < 0.5 else "") for _ in range(20))
        yield record("unicode-emoji", "scripts.emoji", BENIGN, None, "tool_result", text)
