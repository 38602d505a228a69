#!/usr/bin/env python3
"""Makes tests/fixtures/tiny_bert/transformers5/: the tokenizer of tests/fixtures/tiny_bert/tf/vocab.txt
as transformers 5 saves it, tokenizer.json and tokenizer_config.json with no vocab.txt.

    /work/venv-torch/bin/python tools/make_tokenizer_json_fixture.py     # transformers 5, tokenizers

The made-up vocab.txt has "a" and "i" twice; HF keeps the later line of each, so tokenizer.json's
model.vocab has 97 tokens with ids 0..98 and holes at 5 and 13 (what tests/tokenizer.rs's
tokenizer.json-only tests rely on). It then prints the ids HF gives for the texts that
tests/tokenizer.rs checks, from the saved folder and from vocab.txt: they must agree.
"""
import json
import os
import shutil

import tokenizers
import transformers
from transformers import AutoTokenizer, BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "tests", "fixtures", "tiny_bert", "tf")
OUT = os.path.join(ROOT, "tests", "fixtures", "tiny_bert", "transformers5")
TEXTS = ["This movie was a GREAT film, I think!", "a i [MASK] x[SEP]y", ""]


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    BertTokenizer.from_pretrained(SRC).save_pretrained(OUT)
    assert sorted(os.listdir(OUT)) == ["tokenizer.json", "tokenizer_config.json"], os.listdir(OUT)
    vocab = json.load(open(os.path.join(OUT, "tokenizer.json")))["model"]["vocab"]
    ids = set(vocab.values())
    print(f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}")
    print(f"model.vocab: {len(vocab)} tokens, ids up to {max(ids)}, holes {sorted(set(range(max(ids))) - ids)}")
    saved, original = AutoTokenizer.from_pretrained(OUT), BertTokenizer.from_pretrained(SRC)
    for text in TEXTS:
        a, b = saved(text)["input_ids"], original(text)["input_ids"]
        assert a == b, (text, a, b)
        print(json.dumps(text), a)


if __name__ == "__main__":
    main()
