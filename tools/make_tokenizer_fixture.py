#!/usr/bin/env python3
"""Build tests/fixtures/tokenizer_parity.jsonl.gz: reference ids from HF `tokenizers`.

The Rust tokenizer (src/tokenizer) must reproduce these ids exactly; see the parity
test in tests/tokenizer.rs. Reference: the fast Rust-core `tokenizers` loaded from the
model's tokenizer.json, with its built-in truncation/padding switched off. The slow
Python BertTokenizer (transformers' BertTokenizerLegacy) is run as a cross-check on the
same inputs; where it disagrees the fast output is kept and the disagreement listed in
the header line.

Run in a venv outside the repo (pip install tokenizers transformers; no torch):
    python tools/make_tokenizer_fixture.py --imdb /tmp/imdb/aclImdb \
        --model models/all-MiniLM-L6-v2 --out tests/fixtures/tokenizer_parity.jsonl.gz

Lines (JSON, gzip):
  1. {"meta": {...}}  how it was made, versions, counts, slow/fast disagreements
  then one record per line, "kind" is one of
  - "imdb": {text, src, ids}                    IMDB review, uncased (the model's config)
  - "hard": {text, ids, ids_cased}              hand-picked hard string
  - "sweep": {text, ids}                        "a<c>a" for many code points c
  - "trunc": {text, max_len, ids, mask}         single text, truncated+padded to max_len
  - "pair": {a, b, max_len, ids, type_ids, mask} pair, longest-first truncation, padded
  ids_cased: same vocab with lowercase=False (and so no accent stripping).
"""
import argparse
import gzip
import json
import os
import platform
import random
import sys
import unicodedata

import tokenizers
from tokenizers import Tokenizer, normalizers

SEED = 20240531


def hard_strings():
    s = [
        "", " ", "   ", "\t", "\n", "\r\n", " \t\r\n \u3000 \u00a0 ", "\u2028\u2029\u0085\x0b\x0c",
        "Hello, world!", "HELLO World", "hElLo WoRlD", "don't", "Don’t", "I'm ‘quoted’ “twice” «guillemets» „low“ ‹single›",
        "it''s `backtick` ´acute´ ʼmodifierʼ ′prime″ ＇fullwidth＇ ＂dq＂", "rock'n'roll", "'''", '"""',
        "café naïve résumé coöperate Zoë Ångström Øresund Łódź ŞİŞLİ straße ẞ", "CAFÉ NAÏVE",
        "e\u0301 a\u0300\u0301 o\u0308\u0304 a\u0327\u0301 a\u0301\u0327 q\u0307\u0323 x\u0334\u0301\u0316",
        "\u0301leading mark", "mark at end\u0301", "\u0301\u0301\u0301", "n\u0303o\u0303",
        "Ḁḁ ḉ Ẫ ǅ ǈ ǋ ǲ Ϊ ΰ ΐ", "ﬁ ﬂ ﬀ ﬃ ſt ﬅ", "Ω Å K ℃ ™ ½ ² ³ ⁴",
        "ΟΔΟΣ ΣΊΣΥΦΟΣ σς Σ", "İstanbul ıi IJ ij", "ǅungla ǆ ǈ", "Ⅻ ⅻ ⓐ Ⓐ", "ΑΒΓ абв АБВ Ёё Ђђ",
        "中文字符测试", "我爱北京天安门。", "日本語のテキスト、カタカナ、ひらがな", "한국어 텍스트 입니다", "한글각",
        "mixed中文and english", "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 𮯰 丽 兩 鍊", "㐀 䶵 一 龥 鿿 豈 﨩", "\U0002B81D\U0002B820\U0002B91F\U0002B920",
        "emoji 😀😃🥺🫠 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ ☺︎ #️⃣", "😀", "a😀b", "🏳️‍🌈",
        "zero\u200bwidth\u200cjoin\u200dx\u2060y\ufeffz", "soft\u00adhyphen", "\ufeffBOM at start", "bidi \u202ehello\u202c \u200e\u200f",
        "nul\x00char", "\x00", "rep\ufffdlacement", "\ufffd", "ctrl\x01\x02\x03\x07\x08\x1b\x7f\x1f end", "c1\x80\x9f", "\x1c\x1d\x1e\x1f",
        "<br /><br />This movie was <i>great</i> &amp; &quot;fun&quot; <a href=\"x.html\">link</a>",
        "http://www.example.com/path?query=1&x=2#frag", "email@example.com", "@user #hashtag $100 50% 3.14 1,000,000 -5 +7 1e10",
        "10/10 7/10 ****1/2 *** 1/2 ... !!! ??? ?!?! -- --- — – ‒ ― ‐ ‑", "(parens) [brackets] {braces} <angles>",
        "[CLS] [SEP] [PAD] [MASK] [UNK]", "x[SEP]y", "[cls] [Sep]", "[[SEP]]", "[SEP", "[MASK]ed",
        "a" * 100, "a" * 101, "b" * 200, "é" * 100, "é" * 101, "ab" * 50 + "é", "x" * 99 + "\u0301\u0301",
        "supercalifragilisticexpialidocious " * 3, "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
        "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch", "qwzxvkj", "unaffable", "##", "##ing", "# # #",
        "العربية نص تجريبي، مع علامات؟", "مَرْحَبًا بِكُمْ", "हिन्दी पाठ परीक्षण। क़ ख़", "नमस्ते दुनिया", "ภาษาไทยทดสอบ สวัสดีครับ",
        "ພາສາລາວ", "ქართული", "Հայերեն", "עברית שָׁלוֹם", "ελληνικά άέήίόύώ", "Tiếng Việt có dấu: ỗ ự ằ ẫ", "Ελλάδα",
        "ｆｕｌｌｗｉｄｔｈ　ＦＵＬＬ　１２３！？", "ﾊﾝｶｸ ｶﾀｶﾅ", "①②③ ⑴ ⒈", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨", "ℌℑℜ",
        "tab\tseparated\tvalues", "line1\nline2\r\nline3\rline4", "multiple   spaces    here", "\n\n\npara\n\n",
        "123 4567 89012 3.14159 0.001 1st 2nd 3rd 42nd", "٠١٢٣ ۴۵۶ १२३ ๑๒๓", "½ ¼ ¾ ⅓", "MiXeD CaSe WoRdS",
        "U.S.A. e.g. i.e. etc.", "co-operate re-enter x-ray", "snake_case camelCase PascalCase kebab-case",
        "¡Hola! ¿Qué tal?", "«Bonjour»", "‚Guten Tag‘", "§ ¶ † ‡ • · ‣ ※ ‼ ⁇ ⁉", "© ® ° ± × ÷ ¬ ¦ µ",
        "$ € £ ¥ ₹ ₽ ¢ ₩", "+ = < > ^ | ~ ` \\ / *", "∑ ∫ √ ∞ ≠ ≤ ≥ ∈ ∀ ∃", "← → ↑ ↓ ⇒ ⇔", "♠ ♣ ♥ ♦ ♪ ♫ ★ ☆",
        "\u037e greek question ;\u0387", "\u1fef\u1fed\u1fee", "\u2000\u2001\u2002 spaces", "\u00b4\u02dc\u00a8",
        "Å vs A\u030a", "\u1e9b\u0323", "\u0344\u0340\u0341\u0343", "\u0f73\u0f75\u0f81", "\U00011938", "\U00011935\U00011930",
        "\U0001d15e\U0001d165\U0001d16d", "a\u0345b", "\u0e33 \u0eb3", "\u3099\u309a が ぱ", "ｶﾞ ﾊﾟ",
        "\ue000private\U000f0000use", "\U000e0041\U000e0001tags", "\U0001f3fb\U000e007f", "\u0378\u0379 unassigned \U0003ffff",
        "\U0010ffff", "\ufdd0\ufffe\uffff", "𐍈 𐌰𐌱", "ᚠᚢᚦ", "ⴰⵣⵓⵍ", "ꙮ", "𓀀𓀁", "🀄🃏", "\u2e3a\u2e3b", "\u2e50\u2e51\u2e52",
        "\u2e5d", "\U00016fe2 \U000116b9 \U00011b00", "\u1ff3\u1ffc", "\u0130\u0131", "Ǆ Ǳ", "\u1e9e\u00df",
        "ⅰⅱⅲ Ⅰ Ⅱ", "\U00010400\U00010428", "\U0001e900\U0001e922", "\U00016e40", "\u10a0\u2d00 \u1c90",
        "\u13a0 \uab70", "\u0345 \u03b9", "\u2c00\u2c30", "ⓩ Ⓩ", "\U0001f130 \U0001f150",
    ]
    # Every ASCII char, alone and inside a word.
    s += [chr(i) for i in range(128)]
    s += ["ab" + chr(i) + "cd" for i in range(128)]
    s += ["AB" + chr(i) + "CD" for i in range(128)]
    # Every Latin-1 char inside a word, upper and lower ASCII around it.
    s += ["x" + chr(i) + "Y" for i in range(0x80, 0x250)]
    return s


def sweep_strings():
    """'a<c>a' for every BMP and SMP/SIP/TIP code point, a sample elsewhere, 512 per string."""
    cps = [cp for cp in range(0x40000) if not 0xD800 <= cp <= 0xDFFF]
    cps += list(range(0x40000, 0x110000, 257)) + [0xE0000 + i for i in range(0x200)] + [0x10FFFF]
    out = []
    for i in range(0, len(cps), 512):
        out.append(" ".join("a" + chr(c) + "a" for c in cps[i : i + 512]))
    return out


def imdb_sample(root, n_each):
    rng = random.Random(SEED)
    out = []
    for split in ("train", "test"):
        files = sorted(
            os.path.join(split, lab, f) for lab in ("pos", "neg") for f in os.listdir(os.path.join(root, split, lab))
        )
        for rel in rng.sample(files, n_each):
            with open(os.path.join(root, rel), encoding="utf-8") as fh:
                out.append((rel, fh.read()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imdb", required=True, help="unpacked aclImdb folder")
    ap.add_argument("--model", required=True, help="folder with tokenizer.json and vocab.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-split", type=int, default=1000, help="IMDB reviews from train and from test each")
    args = ap.parse_args()

    fast = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    fast.no_truncation()
    fast.no_padding()
    cased = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    cased.no_truncation()
    cased.no_padding()
    cased.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False
    )

    import transformers
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    slow = BertTokenizerLegacy(os.path.join(args.model, "vocab.txt"), do_lower_case=True)

    def ids(tok, text):
        return tok.encode(text).ids

    hard = hard_strings()
    reviews = imdb_sample(args.imdb, args.per_split)
    disagree = []
    for kind, items in (("hard", [(None, t) for t in hard]), ("imdb", reviews)):
        for src, text in items:
            a = ids(fast, text)
            b = slow.encode(text)
            if a != b:
                disagree.append({"kind": kind, "src": src, "text": text if kind == "hard" else None, "fast": a, "slow": b})

    rng = random.Random(SEED + 1)
    records = []
    for rel, text in reviews:
        records.append({"kind": "imdb", "src": rel, "text": text, "ids": ids(fast, text)})
    for text in hard:
        records.append({"kind": "hard", "text": text, "ids": ids(fast, text), "ids_cased": ids(cased, text)})
    for text in sweep_strings():
        records.append({"kind": "sweep", "text": text, "ids": ids(fast, text)})

    # Truncation + padding, single and pair, with the reference's own longest-first rule.
    short = [t for _, t in reviews[:300]] + hard[:150]
    for i in range(300):
        text = rng.choice(short)
        max_len = rng.choice([2, 3, 4, 5, 8, 16, 31, 32, 64, 128, 256])
        fast.enable_truncation(max_length=max_len, strategy="longest_first")
        fast.enable_padding(length=max_len)
        e = fast.encode(text)
        records.append({"kind": "trunc", "text": text, "max_len": max_len, "ids": e.ids, "mask": e.attention_mask})
    for i in range(400):
        a, b = rng.choice(short), rng.choice(short)
        if i % 10 == 0:
            b = a
        max_len = rng.choice([3, 4, 5, 6, 7, 9, 16, 17, 32, 33, 64, 128, 512])
        fast.enable_truncation(max_length=max_len, strategy="longest_first")
        fast.enable_padding(length=max_len)
        e = fast.encode(a, b)
        records.append(
            {"kind": "pair", "a": a, "b": b, "max_len": max_len, "ids": e.ids, "type_ids": e.type_ids, "mask": e.attention_mask}
        )

    counts = {}
    for r in records:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    meta = {
        "made_by": "tools/make_tokenizer_fixture.py",
        "reference": "HF tokenizers (Rust core) from tokenizer.json, no truncation, no padding",
        "versions": {
            "python": platform.python_version(),
            "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__,
            "unicodedata": unicodedata.unidata_version,
        },
        "model": os.path.basename(os.path.normpath(args.model)),
        "seed": SEED,
        "imdb": f"{args.per_split} from train + {args.per_split} from test (pos+neg, sorted paths, random.Random(seed).sample)",
        "counts": counts,
        "slow_vs_fast": "transformers BertTokenizerLegacy (slow, Python) vs tokenizers (fast) on hard+imdb; fast kept",
        "slow_fast_disagreements": disagree,
    }
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write(json.dumps({"meta": meta}, ensure_ascii=False) + "\n")
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: {counts}; slow/fast disagree on {len(disagree)} inputs", file=sys.stderr)
    for d in disagree:
        print(f"  disagree [{d['kind']}] {d['src'] or repr(d['text'])[:80]}", file=sys.stderr)


if __name__ == "__main__":
    main()
