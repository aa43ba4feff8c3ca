"""Probe of detection on brands, wordings and disguises the dev split does not have.

    python benchmarks/heldout_probe.py [--seed 7] [--quiet] [--category P-obfuscated] [--jsonl OUT]

The dev split (../shared/benchmark/dev) has six brands; the final figures come from
a held-out split with other brands and more variation. This probe builds, in
memory, a client file with six invented brands of different shapes (a short
four-letter name, a two-word name, a hyphenated name, an ordinary English word,
a long name, a Chinese name whose Latin form is its pinyin), with keywords,
Nice classes, products with MSRP in several currencies and exchange rates like
the dev client file. It then writes labelled listings per category in the
spirit of the dev README, with more variation:

* P-exact: the brand verbatim with replica cues in varied forms (7A, AAAAA,
  複刻, "1 to 1 copy"), or named only in the description.
* P-obfuscated: the dev families and others (homoglyph + leetspeak together,
  repeated, dashed or symbol separators, emoji between letters, brand split
  across words, diacritics on every letter, underscores, small capitals, brand
  glued to a year or word, plural and possessive forms, keyboard typos), some at
  a fair price with no cue; "like the brand" in other words than "-style".
* P-chinese: Chinese name in simplified or traditional script, written apart
  (also with symbols), pinyin with tone marks, tone numbers, hyphens, capitals,
  glued to Chinese.
* P-price: brand and model verbatim, no cue, price under 30 % of MSRP in
  another currency of the client file, also written as shops write it (RMB, €),
  and titles saying the goods fit other things ("compatible with iPhone").
* N-nearmiss (words one edit from a brand), N-common-word (the brand word in
  its ordinary sense, homophones that are Chinese words), N-nominative
  (accessories for the brand), N-random (unbranded goods, innocent cue words,
  letters spaced with symbols), N-authorized, N-resale (more second-hand wordings).

Every variant name carries "(dev)" when the dev split has that family.

Text only: the Matcher runs with images=False (picture categories are
measured on the dev split). It prints recall / false-positive rate per
category and every miss and false positive with the assessment's evidence.
Runs in a few seconds; no files are written unless --jsonl is given.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.config import load_client
from matching import ListingInput, Matcher

CLIENT_YAML = """
client:
  name: Probe Holdings Ltd.
marks:
- id: vyra
  title: VYRA
  owner: Vyra Beauty Ltd.
  terms: [Vyra, 薇拉, weila]
  classes: [3]
  keywords: [serum, face cream, skincare, lipstick, cosmetics]
- id: kelso-ridge
  title: Kelso Ridge
  owner: Kelso Ridge Outdoor AS
  terms: [Kelso Ridge, 凯索岭, kaisuoling]
  classes: [18, 22, 25]
  keywords: [backpack, hiking, tent, jacket, outdoor]
- id: zen-tek
  title: ZEN-TEK
  owner: Zen-Tek Electronics Co.
  terms: [Zen-Tek, 禅泰克, chantaike]
  classes: [9]
  keywords: [earbuds, headphones, power bank, charger, speaker]
- id: sable
  title: SABLE
  owner: Maison Sable SAS
  terms: [Sable, 萨布尔, sabuer]
  classes: [18]
  keywords: [handbag, tote, wallet, leather bag, purse]
- id: tessaro
  title: TESSARO
  owner: Tessaro Horlogerie SA
  terms: [Tessaro, 泰萨罗, taisaluo]
  classes: [14]
  keywords: [watch, wristwatch, chronograph, automatic]
- id: moyu
  title: MOYU
  owner: Moyu Home Appliances Co.
  terms: [墨羽, moyu]
  classes: [11]
  keywords: [fan, humidifier, air purifier, heater]
products:
- {id: vyra-serum, mark: vyra, name: Vyra Radiance Vitamin C serum 30 ml, msrp: 68.0, currency: USD}
- {id: vyra-lipstick, mark: vyra, name: Vyra Velvet Matte lipstick, msrp: 32.0, currency: USD}
- {id: kelso-trailhead, mark: kelso-ridge, name: Kelso Ridge Trailhead 35L hiking backpack, msrp: 189.0, currency: USD}
- {id: kelso-stormline, mark: kelso-ridge, name: Kelso Ridge Stormline waterproof jacket, msrp: 240.0, currency: EUR}
- {id: zentek-pulse, mark: zen-tek, name: Zen-Tek Pulse X3 wireless earbuds, msrp: 129.0, currency: USD}
- {id: zentek-volt, mark: zen-tek, name: Zen-Tek Volt 20000 power bank, msrp: 59.0, currency: USD}
- {id: sable-marlowe, mark: sable, name: Sable Marlowe leather tote bag, msrp: 890.0, currency: USD}
- {id: sable-aria, mark: sable, name: Sable Aria zip wallet, msrp: 240.0, currency: USD}
- {id: tessaro-meridian, mark: tessaro, name: Tessaro Meridian 40 automatic watch, msrp: 1850.0, currency: EUR}
- {id: tessaro-lumen, mark: tessaro, name: Tessaro Lumen chronograph, msrp: 2400.0, currency: USD}
- {id: moyu-f7, mark: moyu, name: MOYU F7 bladeless tower fan, msrp: 1299.0, currency: CNY}
- {id: moyu-h2, mark: moyu, name: MOYU H2 humidifier, msrp: 599.0, currency: CNY}
authorized_sellers:
- {marketplace: aliexpress, seller_id: '555001'}
- {marketplace: taobao, seller_id: '2209990001'}
- {marketplace: dhgate, seller_name: Kelso Ridge Official Store}
exchange_rates:
  base: USD
  rates: {CNY: 0.138, EUR: 1.08, GBP: 1.27, JPY: 0.0067, HKD: 0.128}
"""

RATES = {"USD": 1.0, "CNY": 0.138, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "HKD": 0.128}


@dataclass
class Brand:
    id: str
    name: str  # as a shop writes it
    zh: str
    zh_trad: str
    pinyin: list[str]  # syllables
    goods_en: list[str]
    goods_zh: list[str]
    products: list[tuple[str, str, float, str]]  # id, model words, msrp, currency


BRANDS = [
    Brand(
        "vyra",
        "Vyra",
        "薇拉",
        "薇拉",
        ["wei", "la"],
        [
            "Vitamin C Face Serum 30ml Brightening",
            "Matte Lipstick Long Lasting Velvet",
            "Hydrating Face Cream Anti Aging 50g",
        ],
        ["精华液 美白提亮 30ml", "哑光口红 持久不脱色", "保湿面霜 补水"],
        [
            ("vyra-serum", "Radiance Vitamin C Serum 30 ml", 68.0, "USD"),
            ("vyra-lipstick", "Velvet Matte Lipstick", 32.0, "USD"),
        ],
    ),
    Brand(
        "kelso-ridge",
        "Kelso Ridge",
        "凯索岭",
        "凱索嶺",
        ["kai", "suo", "ling"],
        [
            "35L Hiking Backpack Waterproof Outdoor Daypack",
            "Waterproof Hiking Jacket Hooded Windbreaker",
            "2 Person Camping Tent Ultralight",
        ],
        ["登山包 35L 户外双肩包", "冲锋衣 防水 户外夹克", "户外帐篷 双人 防雨"],
        [
            ("kelso-trailhead", "Trailhead 35L Hiking Backpack", 189.0, "USD"),
            ("kelso-stormline", "Stormline Waterproof Jacket", 240.0, "EUR"),
        ],
    ),
    Brand(
        "zen-tek",
        "Zen-Tek",
        "禅泰克",
        "禪泰克",
        ["chan", "tai", "ke"],
        [
            "Wireless Earbuds Bluetooth 5.3 Noise Cancelling",
            "20000mAh Power Bank Fast Charging USB-C",
            "Portable Bluetooth Speaker Waterproof",
        ],
        ["无线蓝牙耳机 降噪 超长续航", "充电宝 20000毫安 快充", "蓝牙音箱 便携 防水"],
        [
            ("zentek-pulse", "Pulse X3 Wireless Earbuds", 129.0, "USD"),
            ("zentek-volt", "Volt 20000 Power Bank", 59.0, "USD"),
        ],
    ),
    Brand(
        "sable",
        "Sable",
        "萨布尔",
        "薩布爾",
        ["sa", "bu", "er"],
        [
            "Leather Tote Bag Women Shoulder Handbag Large",
            "Zip Around Leather Wallet Card Holder",
            "Quilted Crossbody Purse Chain Strap",
        ],
        ["真皮托特包 女士手提包 大容量", "拉链长款钱包 卡包", "链条斜挎包 女包"],
        [
            ("sable-marlowe", "Marlowe Leather Tote Bag", 890.0, "USD"),
            ("sable-aria", "Aria Zip Wallet", 240.0, "USD"),
        ],
    ),
    Brand(
        "tessaro",
        "Tessaro",
        "泰萨罗",
        "泰薩羅",
        ["tai", "sa", "luo"],
        [
            "Automatic Mechanical Watch Sapphire 40mm Men",
            "Chronograph Wristwatch Stainless Steel Luminous",
            "Diver Watch Ceramic Bezel 200M",
        ],
        ["机械表 男士 自动上链 蓝宝石", "计时腕表 钢带 夜光", "潜水表 陶瓷圈 防水"],
        [
            ("tessaro-meridian", "Meridian 40 Automatic Watch", 1850.0, "EUR"),
            ("tessaro-lumen", "Lumen Chronograph", 2400.0, "USD"),
        ],
    ),
    Brand(
        "moyu",
        "MOYU",
        "墨羽",
        "墨羽",
        ["mo", "yu"],
        [
            "Bladeless Tower Fan Quiet Remote Control",
            "Ultrasonic Cool Mist Humidifier 4L",
            "HEPA Air Purifier for Bedroom",
        ],
        ["无叶风扇 落地扇 静音遥控", "加湿器 大容量 静音 卧室", "空气净化器 除甲醛"],
        [
            ("moyu-f7", "F7 Bladeless Tower Fan", 1299.0, "CNY"),
            ("moyu-h2", "H2 Humidifier", 599.0, "CNY"),
        ],
    ),
]
BY_ID = {b.id: b for b in BRANDS}

FILLERS_EN = [
    "2025 New",
    "Hot Sale",
    "Free Shipping",
    "Wholesale",
    "Fast Delivery",
    "Big Promotion",
    "Best Seller",
    "Trendy",
    "Gift for Her",
    "Newest",
    "Top Quality",
    "In Stock",
]
FILLERS_ZH = ["包邮", "现货速发", "2025新款", "爆款", "厂家直销", "秒发", "送礼", "清仓"]
SELLERS_EN = [
    "Shenzhen Goods Boutique",
    "Happy Trading Store",
    "Guangzhou Select Co., Ltd.",
    "Sunny Digital Shop",
    "Ningbo Factory Store",
]
SELLERS_ZH = ["阿福小店", "潮流百货", "万家小店", "品质生活馆"]

CUES_EN = [
    "1:1",
    "1：1",
    "AAA+",
    "AAA Quality",
    "Top Replica",
    "Replicas",
    "Mirror Quality",
    "mirror-grade",
    "OEM Quality",
    "Super Clone",
    "1:1 Copy",
    "Top Copy",
    "Grade AAA",
    "7A Quality",
    "10A Top Quality",
    "5A",
    "Knockoff",
    "UA Batch",
    "High-End Replica",
    "Dupe",
    "1 to 1 copy",
    "Master Copy",
    "Same As Original",
    "rep",
    "AAAAA Quality",
    "Replica-Grade",
    "Fake",
]
CUES_ZH = [
    "高仿",
    "原单",
    "复刻",
    "顶级复刻",
    "1比1",
    "精仿",
    "A货",
    "超A",
    "高版本",
    "纯原",
    "一比一",
    "原单尾货",
    "高仿版",
    "複刻",
    "莆田",
    "大牌平替",
]


# --------------------------------------------------------------------- disguises
_CYR = {
    "a": "а",
    "e": "е",
    "o": "о",
    "p": "р",
    "c": "с",
    "y": "у",
    "x": "х",
    "i": "і",
    "s": "ѕ",
    "A": "А",
    "E": "Е",
    "O": "О",
    "P": "Р",
    "C": "С",
    "Y": "Υ",
    "X": "Х",
    "I": "І",
    "S": "Ѕ",
    "K": "К",
    "T": "Т",
    "M": "М",
    "H": "Н",
    "B": "В",
    "R": "R",
    "Z": "Ζ",
    "N": "Ν",
    "V": "V",
}
_LEET = {"a": "4", "e": "3", "o": "0", "i": "1", "s": "5", "t": "7", "l": "1", "g": "9", "b": "8"}
_ACCENT = {
    "a": "à",
    "e": "ë",
    "i": "î",
    "o": "ô",
    "u": "ü",
    "y": "ÿ",
    "n": "ñ",
    "c": "ç",
    "s": "š",
    "z": "ž",
    "r": "ŕ",
    "l": "ĺ",
    "k": "ķ",
    "t": "ţ",
    "m": "ḿ",
    "v": "ṽ",
    "d": "ď",
    "g": "ğ",
    "A": "À",
    "E": "Ë",
    "I": "Î",
    "O": "Ô",
    "U": "Ü",
    "Y": "Ÿ",
    "N": "Ñ",
    "C": "Ç",
    "S": "Š",
    "Z": "Ž",
    "R": "Ŕ",
    "L": "Ĺ",
    "K": "Ķ",
    "T": "Ţ",
    "M": "Ḿ",
    "V": "Ṽ",
    "D": "Ď",
    "G": "Ğ",
}
_SMALLCAPS = dict(zip("abcdefghijklmnopqrstuvwxyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡxʏᴢ"))
_KEYB = {
    "a": "s",
    "e": "r",
    "i": "o",
    "o": "p",
    "s": "d",
    "r": "t",
    "k": "l",
    "l": "k",
    "n": "m",
    "t": "y",
    "y": "u",
    "v": "b",
    "m": "n",
    "u": "y",
    "z": "x",
}


def _letters(name: str) -> list[int]:
    return [i for i, c in enumerate(name) if c.isalpha()]


def _sub_at(name: str, table: dict[str, str], which: int) -> str:
    idx = [i for i in _letters(name) if name[i] in table]
    if not idx:
        return name
    i = idx[which % len(idx)]
    return name[:i] + table[name[i]] + name[i + 1 :]


def _join_letters(name: str, sep: str) -> str:
    return sep.join(c for c in name if c.isalnum())


def _mid(name: str) -> int:
    letters = _letters(name)
    return letters[len(letters) // 2]


def obfuscations(b: Brand) -> dict[str, str]:
    """Disguised writings of a brand, by variant name."""
    n = b.name
    low = n.lower()
    m = _mid(n)
    out = {
        # families the dev split has
        "homoglyph-cyrillic": _sub_at(_sub_at(n, _CYR, 0), _CYR, 1),
        "leet": _sub_at(
            _sub_at(n.upper(), {k.upper(): v for k, v in _LEET.items()}, 0),
            {k.upper(): v for k, v in _LEET.items()},
            1,
        ),
        "spaced": _join_letters(n.upper(), " "),
        "dotted": _join_letters(n, "."),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in n),
        "zero-width": n[:m] + "\u200b" + n[m:],
        "omission": n[:m] + n[m + 1 :],
        "transposition": n[: m - 1] + n[m] + n[m - 1] + n[m + 1 :]
        if m > 0 and n[m - 1].isalpha()
        else n[:m] + n[m + 1] + n[m] + n[m + 2 :],
        "repetition": n[: m + 1] + n[m] + n[m + 1 :],
        "style-suffix": n + "-style",
        # families it does not have
        "homoglyph+leet": _sub_at(_sub_at(n, _CYR, 0), _LEET, 1),
        "repeated-separators": _join_letters(n, "--"),
        "spaced-separators": _join_letters(n.upper(), " - "),
        "underscores": _join_letters(n, "_"),
        "emoji-between": _join_letters(n, "🔥"),
        "stars-between": _join_letters(n.upper(), "★"),
        "hearts-between": _join_letters(n, "♥"),
        "split-word": n[:m] + " " + n[m:] if " " not in n[m - 1 : m + 1] else n.replace(" ", "  "),
        "diacritics-all": "".join(_ACCENT.get(c, c) for c in n),
        "diacritics-all-upper": "".join(_ACCENT.get(c, c) for c in n.upper()),
        "small-caps": "".join(_SMALLCAPS.get(c, c) for c in low),
        "mixed-case": "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(n)),
        "glued-year": n.replace(" ", "").replace("-", "") + "2025",
        "glued-year-lower": low.replace(" ", "") + "2025new",
        "glued-word": n.replace(" ", "").replace("-", "") + "Official",
        "possessive": n + "'s",
        "possessive-curly": n + "’s",
        "plural": n + "s",
        "keyboard-typo": _sub_at(low, _KEYB, len(low) // 2).capitalize(),
        "vowel-swap": _sub_at(
            n,
            {
                "a": "e",
                "e": "a",
                "o": "u",
                "i": "e",
                "y": "i",
                "A": "E",
                "E": "A",
                "O": "U",
                "Y": "I",
            },
            0,
        ),
        "bracketed": "[" + n + "]",
        "hashtag": "#" + n.replace(" ", "").replace("-", ""),
        "registered": n + "®",
        "slash-separators": _join_letters(n, "/"),
        "mixed-separators": "".join(
            c + (". " if i % 2 else "-") for i, c in enumerate(x for x in n if x.isalnum())
        ).rstrip(". -"),
        "leet-heavy": "".join(
            _LEET.get(c.lower(), c) if i % 2 == 0 else c for i, c in enumerate(n)
        ),
        "cjk-context-mixed-case": "正品"
        + "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(n)),
        "first-word-upper": n.upper(),
        # round two: partial separators, other dashes and spaces, combining marks
        "partial-dot": n[:m] + "." + n[m:],
        "partial-hyphen": n[:m] + "-" + n[m:],
        "em-dash": n[:m] + "—" + n[m:],
        "en-dash-spaced": _join_letters(n.upper(), " – "),
        "nbsp-spaced": _join_letters(n.upper(), "\u00a0"),
        "mask-letter": n[:m] + "*" + n[m + 1 :],
        "brackets-cjk": "【" + n + "】",
        "parentheses": "(" + n + ")",
        "trademark": n.upper() + "™",
        "underlined": "".join(c + "\u0332" for c in n),
        "strikethrough": "".join(c + "\u0336" for c in n),
        "zero-width+cyrillic": _sub_at(n, _CYR, 0)[:m] + "\u200d" + _sub_at(n, _CYR, 0)[m:],
        "leet-upper-all": "".join(
            _LEET.get(c.lower(), c) if c.lower() in "aeiost" else c for c in n.upper()
        ),
        "greek-mixed": n.upper()
        .replace("A", "Α")
        .replace("E", "Ε")
        .replace("O", "Ο")
        .replace("K", "Κ"),
        "doubled-letters": "".join(
            c * 2 if c.isalpha() and i == len(n) - 1 else c for i, c in enumerate(n)
        ),
        "zh-glued-both": b.zh + n,
    }
    if " " in n or "-" in n:
        parts = n.replace("-", " ").split()
        out["two-word-glued"] = "".join(parts)
        out["two-word-underscore"] = "_".join(parts)
        out["two-word-dot"] = ".".join(parts)
        out["two-word-camel-leet"] = "".join(_sub_at(p, _LEET, 0) for p in parts)
        out["two-word-typo-second"] = parts[0] + " " + parts[1][:-2] + parts[1][-1] + parts[1][-2]
    return out


# The families a holdout set may use that dev has no example of; reported separately.
DEV_FAMILIES = {
    "homoglyph-cyrillic",
    "leet",
    "spaced",
    "dotted",
    "fullwidth",
    "zero-width",
    "omission",
    "transposition",
    "repetition",
    "style-suffix",
    "vowel-swap",
    "first-word-upper",
}


def pinyin_forms(b: Brand) -> dict[str, str]:
    tones = {
        "wei": "wēi",
        "la": "lā",
        "kai": "kǎi",
        "suo": "suǒ",
        "ling": "lǐng",
        "chan": "chán",
        "tai": "tài",
        "ke": "kè",
        "sa": "sà",
        "bu": "bù",
        "er": "ěr",
        "luo": "luó",
        "mo": "mò",
        "yu": "yǔ",
    }
    nums = {
        "wei": "1",
        "la": "1",
        "kai": "3",
        "suo": "3",
        "ling": "3",
        "chan": "2",
        "tai": "4",
        "ke": "4",
        "sa": "4",
        "bu": "4",
        "er": "3",
        "luo": "2",
        "mo": "4",
        "yu": "3",
    }
    s = b.pinyin
    return {
        "pinyin-lower": "".join(s),
        "pinyin-upper": "".join(s).upper(),
        "pinyin-capitalised-words": " ".join(x.capitalize() for x in s),
        "pinyin-camel": "".join(x.capitalize() for x in s),
        "pinyin-hyphen": "-".join(x.capitalize() for x in s),
        "pinyin-tone-marks": " ".join(tones[x] for x in s),
        "pinyin-tone-marks-glued": "".join(tones[x] for x in s).capitalize(),
        "pinyin-tone-numbers": "".join(x + nums[x] for x in s),
        "pinyin-tone-numbers-spaced": " ".join(x + nums[x] for x in s),
        "pinyin-apostrophe": "'".join(s),
    }


# --------------------------------------------------------------------- listings
@dataclass
class Case:
    listing: ListingInput
    label: int
    category: str
    variant: str
    mark_id: str | None


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = 0
        self.cases: list[Case] = []

    def add(
        self,
        title,
        label,
        category,
        variant,
        mark_id,
        price,
        currency="USD",
        seller_id=None,
        seller_name=None,
        marketplace=None,
        description=None,
    ) -> None:
        self.n += 1
        zh = any("\u4e00" <= c <= "\u9fff" for c in title)
        mp = marketplace or (
            "taobao" if zh and currency == "CNY" else self.rng.choice(["aliexpress", "dhgate"])
        )
        listing = ListingInput(
            id=f"probe:{self.n}",
            title=title,
            marketplace=mp,
            description=description,
            price=None if price is None else round(price, 2),
            currency=currency if price is not None else None,
            seller_id=seller_id or str(self.rng.randint(600000, 999999)),
            seller_name=seller_name or self.rng.choice(SELLERS_ZH if zh else SELLERS_EN),
        )
        self.cases.append(Case(listing, label, category, variant, mark_id))

    def pick(self, seq):
        return self.rng.choice(seq)

    def goods(self, seq: list[str]) -> str:
        """The goods words of the product last priced (goods lists follow the product order)."""
        return seq[self.last_goods]

    def price(
        self,
        brand: Brand,
        ratio_lo: float,
        ratio_hi: float,
        currency: str | None = None,
        product: int | None = None,
    ) -> tuple[float, str, tuple]:
        prod = brand.products[
            product if product is not None else self.rng.randrange(len(brand.products))
        ]
        self.last_goods = brand.products.index(prod)
        currency = currency or self.pick(["USD", "USD", "EUR", "GBP", "CNY", "JPY", "HKD"])
        usd = prod[2] * RATES[prod[3]] * self.rng.uniform(ratio_lo, ratio_hi)
        return usd / RATES[currency], currency, prod


def generate(seed: int) -> list[Case]:
    g = Gen(seed)
    for b in BRANDS:
        # P-exact: brand verbatim + a cue in varied forms.
        for i, cue in enumerate(CUES_EN):
            price, cur, prod = g.price(b, 0.08, 0.5)
            goods = g.goods(b.goods_en)
            title = [
                f"{b.name} {goods} {cue}",
                f"{cue} {b.name.upper()} {goods}",
                f"{g.pick(FILLERS_EN)} {b.name} {prod[1]} {cue}",
            ][i % 3]
            g.add(title, 1, "P-exact", f"cue:{cue}", b.id, price, cur)
        for cue in CUES_ZH:
            price, _, prod = g.price(b, 0.08, 0.5, "CNY")
            g.add(
                f"{cue} {b.name} {g.goods(b.goods_zh)} {g.pick(FILLERS_ZH)}",
                1,
                "P-exact",
                f"cue-zh:{cue}",
                b.id,
                price,
                "CNY",
            )

        # P-obfuscated: price low-ish, a cue in a third of them.
        for variant, form in obfuscations(b).items():
            price, cur, prod = g.price(b, 0.1, 0.45)
            goods = g.goods(b.goods_en)
            cue = g.pick(CUES_EN) if g.rng.random() < 0.33 else ""
            fam = variant if variant not in DEV_FAMILIES else variant + " (dev)"
            title = (
                f"{form} {goods} {cue}".strip()
                if g.rng.random() < 0.6
                else f"{g.pick(FILLERS_EN)} {form} {goods}"
            )
            g.add(title, 1, "P-obfuscated", fam, b.id, price, cur)
            # and the same disguise in a Chinese title
            if variant in (
                "homoglyph+leet",
                "emoji-between",
                "diacritics-all",
                "underscores",
                "glued-year",
                "repeated-separators",
                "mixed-case",
                "plural",
                "possessive",
                "split-word",
            ):
                price, _, _ = g.price(b, 0.1, 0.45, "CNY")
                g.add(
                    f"{g.pick(FILLERS_ZH)}{form}{g.goods(b.goods_zh)}",
                    1,
                    "P-obfuscated",
                    fam + " zh",
                    b.id,
                    price,
                    "CNY",
                )

        # The same disguises at a fair price with no cue: the spelling alone must tell.
        for variant in (
            "homoglyph+leet",
            "emoji-between",
            "diacritics-all",
            "spaced-separators",
            "small-caps",
            "zero-width+cyrillic",
            "greek-mixed",
            "leet-upper-all",
            "underscores",
            "fullwidth",
        ):
            form = obfuscations(b)[variant]
            price, cur, prod = g.price(b, 0.6, 0.95)
            fam = variant if variant not in DEV_FAMILIES else variant + " (dev)"
            g.add(
                f"{form} {g.goods(b.goods_en)}",
                1,
                "P-obfuscated",
                fam + " fair-price",
                b.id,
                price,
                cur,
            )

        # Sold as like the brand, in other words than dev's "-style".
        for style in (
            "{} inspired",
            "inspired by {}",
            "{}-like",
            "{} alike",
            "{} look-alike",
            "similar to {}",
            "{} dupe",
            "{} type",
            "{} homage",
            "like {}",
            "{}风格",
            "{}同款",
            "{} vibe",
            "{}-esque",
            "alternative to {}",
            "{} style",
            "{}-Style",
        ):
            price, cur, prod = g.price(b, 0.1, 0.5)
            g.add(
                f"{style.format(b.name)} {g.goods(b.goods_en)}",
                1,
                "P-obfuscated",
                "style:" + style.format("X"),
                b.id,
                price,
                cur,
            )

        # Brand named only in the description, with a cue or a cheap price.
        for k in range(2):
            price, cur, prod = g.price(b, 0.08, 0.3)
            g.add(
                f"{g.pick(FILLERS_EN)} {g.goods(b.goods_en)}",
                1,
                "P-exact",
                "brand-in-description",
                b.id,
                price,
                cur,
                description=f"Same as {b.name} {prod[1]}. {g.pick(CUES_EN)} quality, fast shipping.",
            )

        # P-chinese: Chinese name or pinyin only, cheap.
        zh_forms = {
            "zh": b.zh,
            "zh-traditional": b.zh_trad,
            "zh-spaced": " ".join(b.zh),
            "zh-dotted": "·".join(b.zh),
            "zh-brackets": f"【{b.zh}】",
            "zh-emoji": "❤".join(b.zh),
            "zh-slash": "/".join(b.zh),
        }
        for variant, form in zh_forms.items():
            price, _, _ = g.price(b, 0.08, 0.35, "CNY")
            g.add(
                f"{g.pick(FILLERS_ZH)}{form}{g.goods(b.goods_zh)}",
                1,
                "P-chinese",
                variant,
                b.id,
                price,
                "CNY",
            )
            price, cur, _ = g.price(b, 0.08, 0.35, "USD")
            g.add(
                f"{g.pick(FILLERS_EN)} {form} {g.goods(b.goods_en)}",
                1,
                "P-chinese",
                variant + " in-en",
                b.id,
                price,
                cur,
            )
        for variant, form in pinyin_forms(b).items():
            price, cur, _ = g.price(b, 0.08, 0.35)
            g.add(f"{form} {g.goods(b.goods_en)}", 1, "P-chinese", variant, b.id, price, cur)
            price, _, _ = g.price(b, 0.08, 0.35, "CNY")
            g.add(
                f"{g.pick(FILLERS_ZH)}{form}{g.goods(b.goods_zh)}",
                1,
                "P-chinese",
                variant + " zh",
                b.id,
                price,
                "CNY",
            )

        # P-price: brand + model verbatim, no cue, < 30 % of MSRP, other currencies.
        for cur in ("USD", "EUR", "GBP", "JPY", "HKD", "CNY"):
            for k in range(len(b.products)):
                price, _, prod = g.price(b, 0.05, 0.28, cur, k)
                goods = g.goods(b.goods_zh if cur == "CNY" else b.goods_en)
                g.add(f"{b.name} {prod[1]} {goods}", 1, "P-price", f"{cur}", b.id, price, cur)
        # the goods are said to fit other things: the brand is not the object of "compatible"
        for phrase in (
            "Compatible with iPhone Android",
            "Works with Alexa",
            "Fits 15 inch Laptop",
            "Suitable for All Skin Types",
            "兼容苹果安卓",
            "Replacement for Old Model",
        ):
            price, cur, prod = g.price(b, 0.05, 0.28, "USD", 0)
            g.add(
                f"{b.name} {prod[1]} {g.goods(b.goods_en)} {phrase}",
                1,
                "P-price",
                f"other-compat:{phrase}",
                b.id,
                price,
                cur,
            )
        # currency written as shops write it, not as an ISO code
        for written, cur in (
            ("RMB", "CNY"),
            ("rmb", "CNY"),
            ("€", "EUR"),
            ("usd", "USD"),
            ("£", "GBP"),
        ):
            price, _, prod = g.price(b, 0.05, 0.28, cur, 0)
            g.add(
                f"{b.name} {prod[1]} {g.goods(b.goods_en)}",
                1,
                "P-price",
                f"written {written}",
                b.id,
                price,
                written,
            )

        # N-authorized: authorised sellers at a normal price.
        for k in range(len(b.products)):
            price, _, prod = g.price(b, 0.85, 1.05, "USD", k)
            g.add(
                f"{b.name} {prod[1]} Official Genuine",
                0,
                "N-authorized",
                "aliexpress-id",
                b.id,
                price,
                "USD",
                seller_id="555001",
                marketplace="aliexpress",
            )
            price, _, prod = g.price(b, 0.85, 1.05, "CNY", k)
            g.add(
                f"{b.zh} {b.name} {prod[1]} 正品 官方旗舰",
                0,
                "N-authorized",
                "taobao-id",
                b.id,
                price,
                "CNY",
                seller_id="2209990001",
                marketplace="taobao",
            )

        # N-resale: second-hand at a fair used price (50-95 %), unauthorised seller.
        resale_en = [
            "Pre-owned",
            "Used",
            "Preowned",
            "Second Hand",
            "Gently Used",
            "Like New",
            "Pre-Loved",
            "Open Box",
            "Lightly used,",
            "Used - Good Condition",
            "Barely Used",
            "Ex-Display",
            "Worn Once",
            "Mint Condition Pre-owned",
            "Refurbished",
        ]
        resale_en += [
            "Used once",
            "Second-hand, great condition",
            "Pre owned",
            "Preloved",
            "Used Like New",
            "Open-box",
            "B-Stock",
            "Ex-Demo",
            "Barely Worn",
        ]
        resale_zh = [
            "二手",
            "闲置",
            "9成新",
            "95新",
            "99新",
            "九成新",
            "自用闲置",
            "中古",
            "八成新",
            "九五新",
            "转让",
            "出闲置",
            "仅试穿",
            "95成新",
        ]
        for word in resale_en:
            price, cur, prod = g.price(b, 0.5, 0.9)
            g.add(f"{word} {b.name} {prod[1]}", 0, "N-resale", f"en:{word}", b.id, price, cur)
        for word in resale_zh:
            price, _, prod = g.price(b, 0.5, 0.9, "CNY")
            g.add(
                f"{word} {b.zh} {b.name} {prod[1]} {g.goods(b.goods_zh)}",
                0,
                "N-resale",
                f"zh:{word}",
                b.id,
                price,
                "CNY",
            )

        # Second-hand said only in the description.
        price, cur, prod = g.price(b, 0.5, 0.9)
        g.add(
            f"{b.name} {prod[1]}",
            0,
            "N-resale",
            "in-description",
            b.id,
            price,
            cur,
            description="Pre-owned, light signs of wear, original box included.",
        )

        # N-nominative: accessories for the brand's goods.
        acc = {
            "vyra": [
                "Refillable Travel Bottle compatible with Vyra Radiance serum",
                "Makeup Bag for Vyra lipstick",
            ],
            "kelso-ridge": [
                "Rain Cover for Kelso Ridge Trailhead 35L Backpack",
                "Replacement Hip Belt fits Kelso Ridge packs",
                "Tent Footprint compatible with Kelso Ridge 2 Person Tent",
            ],
            "zen-tek": [
                "Silicone Case for Zen-Tek Pulse X3 Earbuds",
                "Replacement Ear Tips compatible with Zen-Tek Pulse X3",
                "USB-C Cable for Zen-Tek Volt 20000 Power Bank",
                "Zen-Tek Pulse X3 Compatible Charging Case",
            ],
            "sable": [
                "Bag Organizer Insert for Sable Marlowe Tote",
                "Dust Bag compatible with Sable handbags",
            ],
            "tessaro": [
                "20mm Leather Strap for Tessaro Meridian 40 Watch",
                "Watch Winder Box compatible with Tessaro automatic",
                "Screen Protector for Tessaro Lumen Chronograph",
            ],
            "moyu": [
                "Replacement Remote Control for MOYU F7 Tower Fan",
                "适用于墨羽加湿器 滤芯 替换",
                "墨羽风扇专用遥控器 适配",
            ],
        }[b.id]
        prod = b.products[0]
        acc = acc + [
            f"Protective Cover for use with {b.name} {prod[1]}",
            f"Storage Case designed for {b.name} {prod[1]}",
            f"{b.name}-Compatible Replacement Parts Kit",
            f"Replacement Strap fits {b.name}",
            f"Cleaning Kit works with {b.name} products",
            f"适用于{b.zh} 配件 收纳包",
            f"{b.zh}专用 保护套",
            f"兼容{b.name} 替换配件",
        ]
        for t in acc:
            zh = any("\u4e00" <= c <= "\u9fff" for c in t)
            g.add(
                t,
                0,
                "N-nominative",
                "accessory",
                b.id,
                g.rng.uniform(3, 15) / (RATES["CNY"] if zh else 1),
                "CNY" if zh else "USD",
            )

    # N-nearmiss: words close to a brand that name other things, goods outside its classes.
    nearmiss = [
        ("vyra", "Lyra Acoustic Lap Harp 15 Strings Wooden"),
        ("vyra", "Myra Fashion Doll Dress Up Set"),
        ("vyra", "Kyra Non-slip Yoga Mat 6mm"),
        ("vyra", "Vyro Bicycle Tire 700x25c"),
        ("vyra", "Vira Stainless Steel Kitchen Knife Set"),
        ("vyra", "Viral Challenge Board Game"),
        ("kelso-ridge", "Kelso Scotland Vintage Travel Poster"),
        ("kelso-ridge", "Blue Ridge Mountains Wall Art Canvas Print"),
        ("kelso-ridge", "Kelsey Ridge Farmhouse Table Lamp"),
        ("kelso-ridge", "Ridge Wallet Slim Card Holder Aluminium"),
        ("zen-tek", "Zen Garden Sand Tray Desk Ornament"),
        ("zen-tek", "Tek Screws Self Drilling 100 pcs"),
        ("zen-tek", "Zen Tea Ceramic Teapot Set"),
        ("zen-tek", "Zentangle Drawing Book for Beginners"),
        ("zen-tek", "Zenith Desk Lamp LED Dimmable"),
        ("zen-tek", "Ben-Tek Cordless Screwdriver Set"),
        ("zen-tek", "Zen Teak Wood Serving Tray"),
        ("zen-tek", "Den-Tek Dental Floss Picks"),
        ("kelso-ridge", "Kelso Bridge Model Railway Kit"),
        ("sable", "Table Lamp Bedside Touch Dimmable"),
        ("sable", "Cable Organizer Box Large"),
        ("sable", "Stable Phone Stand Aluminium"),
        ("sable", "Sabre Fencing Mask Practice"),
        ("sable", "Saber Light Sword Toy RGB"),
        ("sable", "Fable Storybook Hardcover for Kids"),
        ("tessaro", "Tessera Mosaic Glass Tiles 200 pcs"),
        ("tessaro", "Tesoro Treasure Box Wooden Ornament"),
        ("tessaro", "Tesaro Vitamin D3 Drops 30ml"),
        ("tessaro", "Cessaro Olive Oil Extra Virgin 1L"),
        ("tessaro", "Tessa Rose Scented Candle"),
        ("moyu", "MoYu Speed Cube 3x3 Magic Cube Puzzle"),
        ("moyu", "摸鱼 T恤 纯棉 短袖 男"),
        ("moyu", "Moyo Silicone Kitchen Spatula"),
        ("moyu", "魔域 游戏 手办 摆件"),
        ("moyu", "Moya Handmade Soap Bar"),
        ("moyu", "墨鱼干 海鲜零食 500g"),
    ]
    for mark, t in nearmiss:
        zh = any("\u4e00" <= c <= "\u9fff" for c in t)
        g.add(
            t,
            0,
            "N-nearmiss",
            "lexical",
            mark,
            g.rng.uniform(3, 40) / (RATES["CNY"] if zh else 1),
            "CNY" if zh else "USD",
        )

    # N-common-word: the brand word in its ordinary sense on goods outside the mark.
    common = [
        ("sable", "Kolinsky Sable Watercolor Brush Set 6 pcs"),
        ("sable", "Sable Fur Trim Winter Hat"),
        ("sable", "Sable German Shepherd Figurine Resin"),
        ("sable", "Sable Island Map Poster"),
        ("sable", "Sable Colour Cashmere Scarf"),
        ("sable", "Sable Brown Hair Dye Cream"),
        ("sable", "Sable Ferret Plush Toy"),
        ("sable", "Black Sable Pony Model Toy"),
        ("zen-tek", "Zen Meditation Cushion with Tek Fabric"),
        ("kelso-ridge", "Kelso Ridge Road Street Sign Metal Wall Decor"),
        ("moyu", "摸鱼神器 办公室 解压玩具"),
        ("sable", "Passable Quality Canvas Tote Bag"),
        ("sable", "Reusable Grocery Tote Bag Foldable"),
        ("sable", "Disposable Travel Wallet Pouch"),
        ("moyu", "墨鱼 造型 桌面小风扇 USB"),
        ("moyu", "摸鱼神器 USB桌面小风扇 静音"),
        ("vyra", "维拉 面霜 补水 保湿"),
    ]
    for mark, t in common:
        zh = any("\u4e00" <= c <= "\u9fff" for c in t)
        g.add(
            t,
            0,
            "N-common-word",
            "ordinary-sense",
            mark,
            g.rng.uniform(3, 40) / (RATES["CNY"] if zh else 1),
            "CNY" if zh else "USD",
        )

    # Authorised by seller name, not id.
    for k, prod in enumerate(BY_ID["kelso-ridge"].products):
        price, _, prod = g.price(BY_ID["kelso-ridge"], 0.85, 1.0, "USD", k)
        g.add(
            f"Kelso Ridge {prod[1]} Genuine",
            0,
            "N-authorized",
            "by-seller-name",
            "kelso-ridge",
            price,
            "USD",
            seller_name="Kelso Ridge Official Store",
            marketplace="dhgate",
        )

    # N-random: unbranded goods, including the clients' own kinds, some with innocent cue words.
    random_titles = [
        "S ❤ M ❤ L ❤ XL Cotton T-shirt",
        "A★B★C Alphabet Wooden Blocks Toy",
        "I ♥ NY Souvenir Mug",
        "L O V E Letters Wall Decor",
        "H-O-M-E Wooden Sign",
        "S.A.L.E Banner Poster",
        "Z E N Garden Stone Set",
        "M—O—M Necklace Gift",
        "Zen Tech Desk Organizer",
        "Tek Deck Fingerboard Toy",
        "Ridge Runner Fishing Rod",
        "Vintage Style Camera Strap",
        "Retro-Inspired Leather Watch Strap",
        "Mirror Quality Polishing Cloth for Watches",
        "7A Grade Phone Charger 5A Fast Charging Cable",
        "AAAA Batteries 8 Pack for Stylus",
        "Like New Condition Guaranteed Storage Box",
        "高仿真 仿真植物 绿植 假花",
        "韩版同款 卫衣",
        "一比一 还原 建筑模型 积木",
        "Wireless Earbuds Bluetooth 5.3 Noise Cancelling",
        "20000mAh Power Bank Fast Charging",
        "Vitamin C Face Serum 30ml Brightening",
        "Leather Tote Bag Women Shoulder Handbag",
        "Automatic Mechanical Watch Sapphire Men",
        "35L Hiking Backpack Waterproof",
        "Bladeless Tower Fan Quiet Remote",
        "AAA Batteries 1.5V Alkaline 24 Pack",
        "OEM/ODM Custom Logo Canvas Tote Bag",
        "Mirror Finish Stainless Steel Watch Band 20mm",
        "Retro Style Wireless Earbuds Vintage Look",
        "Korean Style Face Cream Moisturizer",
        "Replica 1:12 Dollhouse Miniature Chair",
        "Copy Holder Document Stand for Desk",
        "Inspired by Nature Scented Candle",
        "Top Grade Genuine Leather Wallet Men",
        "Original Factory OEM Replacement Watch Crown",
        "1:1 Scale Replica Roman Coin Collectible",
        "加湿器 大容量 静音 卧室 包邮",
        "无线蓝牙耳机 降噪 运动",
        "真皮钱包 男士 短款",
        "Mirror Grade Polished Stainless Steel Sheet",
        "AAA Grade Material Jade Bracelet",
        "Clone Trooper Action Figure 6 inch",
        "Fake Plant Artificial Eucalyptus Stems",
        "Dupe Pattern Knitting Book",
        "Rep Range Workout Journal Notebook",
        "Same As Picture Summer Dress Women",
        "Style Like Photo Hair Clip Set",
        "High Quality Crossbody Purse Chain Strap",
        "Waterproof Hiking Jacket Hooded Windbreaker",
        "Portable Bluetooth Speaker Waterproof IPX7",
        "Ultrasonic Cool Mist Humidifier 4L",
        "HEPA Air Purifier for Bedroom Quiet",
        "Matte Lipstick Long Lasting 12 Colors",
    ]
    for t in random_titles:
        zh = any("\u4e00" <= c <= "\u9fff" for c in t)
        g.add(
            t,
            0,
            "N-random",
            "unbranded",
            None,
            g.rng.uniform(3, 60) / (RATES["CNY"] if zh else 1),
            "CNY" if zh else "USD",
        )
    return g.cases


# --------------------------------------------------------------------- run
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quiet", action="store_true", help="only the table, not each miss")
    ap.add_argument("--category", help="only list failures of this category")
    ap.add_argument("--jsonl", type=Path, help="write listings with labels and verdicts here")
    a = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "markwatch.yaml"
        path.write_text(CLIENT_YAML, encoding="utf-8")
        client = load_client(path)
    matcher = Matcher(client, images=False)
    cases = generate(a.seed)

    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, flagged, mark ok
    failures: list[tuple[Case, object]] = []
    out = a.jsonl.open("w", encoding="utf-8") if a.jsonl else None
    for c in cases:
        res = matcher.assess(c.listing)
        flagged = res.verdict != "clear"
        s = stats[c.category]
        s[0] += 1
        s[1] += flagged
        s[2] += flagged and res.mark_id == c.mark_id
        if flagged != bool(c.label) or (c.label and flagged and res.mark_id != c.mark_id):
            failures.append((c, res))
        if out:
            out.write(
                json.dumps(
                    {
                        "title": c.listing.title,
                        "label": c.label,
                        "category": c.category,
                        "variant": c.variant,
                        "mark_id": c.mark_id,
                        **res.to_json(),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    if out:
        out.close()

    tp = sum(s[1] for k, s in stats.items() if k.startswith("P-"))
    pos = sum(s[0] for k, s in stats.items() if k.startswith("P-"))
    fp = sum(s[1] for k, s in stats.items() if k.startswith("N-"))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / pos if pos else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    print(f"{'category':<16}{'n':>5}{'flagged':>9}{'recall':>8}{'FPR':>8}{'mark_ok':>9}")
    for k in sorted(stats, key=lambda k: (k[0] != "P", k)):
        n, fl, ok = stats[k]
        if k.startswith("P-"):
            print(f"{k:<16}{n:>5}{fl:>9}{fl / n:>8.3f}{'-':>8}{(ok / fl if fl else 0):>9.3f}")
        else:
            print(f"{k:<16}{n:>5}{fl:>9}{'-':>8}{fl / n:>8.3f}{'-':>9}")
    print(f"n={len(cases)} tp={tp} fn={pos - tp} fp={fp}  F1={f1:.3f} P={prec:.3f} R={rec:.3f}")
    if a.quiet:
        return 0
    print()
    for c, res in failures:
        if a.category and c.category != a.category:
            continue
        what = "MISS" if c.label else "FALSE POSITIVE"
        if c.label and res.verdict != "clear":
            what = f"WRONG MARK ({res.mark_id})"
        print(
            f"{what} [{c.category} / {c.variant}] {c.listing.title!r} "
            f"{c.listing.price} {c.listing.currency} -> {res.verdict} {res.score:.3f}"
        )
        for sig in res.signals:
            print(f"    {sig.kind:8} {sig.score:.2f} {sig.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
