#!/usr/bin/env python3
"""Makes tests/fixtures/hf_classifier/: transformers' BertForSequenceClassification as its
authors save it (save_pretrained), with two and with three labels, and the logits and
probabilities transformers gives for a few texts. wgbert must load these heads as they are and
predict what transformers predicts.

    /work/venv-torch/bin/python tools/make_hf_classifier_fixtures.py   # torch, transformers, safetensors

The encoder is tests/fixtures/tiny_bert's (vocab 99, hidden 32, 2 layers); the heads are drawn
from a fixed seed, larger than transformers' init (N(0, 0.5²)), and the bias centres the
logits of these texts, so the probabilities are far from uniform and the labels vary. vocab.txt is tiny_bert/tf's made-up 99-token vocabulary.
"""
import json
import os
import shutil

import torch
from transformers import BertForSequenceClassification, BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_bert")
OUT = os.path.join(ROOT, "tests", "fixtures", "hf_classifier")
TEXTS = [
    "the movie was great!",
    "this film is bad.",
    "meh, ok so so",
    "a very good movie",
    "not good, not great",
    "I think it was the film of the year",
]
MODELS = {
    "two_labels": {0: "neg", 1: "pos"},
    "three_labels": {0: "bad", 1: "meh", 2: "good"},
}


def main():
    vocab = os.path.join(TINY, "tf", "vocab.txt")
    tok = BertTokenizer(vocab, do_lower_case=True)
    for seed, (name, id2label) in enumerate(MODELS.items()):
        torch.manual_seed(100 + seed)
        model = BertForSequenceClassification.from_pretrained(
            os.path.join(TINY, "safetensors"),
            num_labels=len(id2label),
            id2label=id2label,
            label2id={v: k for k, v in id2label.items()},
        )
        model.eval()
        enc = tok(TEXTS, padding=True, return_tensors="pt")
        with torch.no_grad():
            model.classifier.weight.normal_(0.0, 0.5)
            # Centred on these texts, so that they do not all fall in one class.
            model.classifier.bias.zero_()
            model.classifier.bias.copy_(-model(**enc).logits.mean(dim=0))
        out = os.path.join(OUT, name)
        shutil.rmtree(out, ignore_errors=True)
        model.save_pretrained(out, safe_serialization=True)
        shutil.copy(vocab, os.path.join(out, "vocab.txt"))
        with torch.no_grad():
            logits = model(**enc).logits
        probs = torch.softmax(logits, dim=-1)
        expected = {
            "made_by": "tools/make_hf_classifier_fixtures.py: transformers BertForSequenceClassification, eval mode",
            "texts": TEXTS,
            "input_ids": [[int(i) for i, m in zip(ids, mask) if m] for ids, mask in zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist())],
            "logits": logits.tolist(),
            "probabilities": probs.tolist(),
            "labels": [id2label[int(k)] for k in probs.argmax(dim=-1)],
        }
        with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
            json.dump(expected, f, indent=1)
        print(name, expected["labels"])


if __name__ == "__main__":
    main()
