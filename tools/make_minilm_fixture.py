#!/usr/bin/env python3
"""Makes tests/fixtures/minilm/outputs.safetensors: Hugging Face BertModel outputs of
all-MiniLM-L6-v2 for 8 sentences of different lengths (one IMDB review truncated at 128 tokens),
so the model engine can be checked end to end against the reference implementation.

    /work/venvs/torch/bin/python tools/make_minilm_fixture.py [MODEL_DIR] [IMDB_TARBALL]

MODEL_DIR defaults to models/all-MiniLM-L6-v2 (tools/fetch_model.sh), IMDB_TARBALL to
../shared/data/aclImdb_labeled.tar.gz next to the repository. Needs torch, transformers, safetensors.
"""
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imdb_io import read_reviews  # noqa: E402  (tools/imdb_io.py)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
IMDB = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "..", "shared", "data", "aclImdb_labeled.tar.gz")
OUT = os.path.join(ROOT, "tests", "fixtures", "minilm")
REVIEW = "aclImdb/test/pos/0_10.txt"

review = read_reviews(IMDB, [REVIEW])[REVIEW]

SENTENCES = [
    "this is such an amazing movie!",
    "The movie was great!",
    "The movie was meh.",
    "The movie was okish.",
    "The movie was terrible...",
    review,
    "Hi",
    "I did not expect much from a sequel, but the acting, the score and the pacing won me over completely.",
]

torch.manual_seed(0)
tokenizer = AutoTokenizer.from_pretrained(MODEL)
# The model's tokenizer.json pads to 128 by default; pad to the longest sequence instead.
enc = tokenizer(SENTENCES, padding="longest", truncation=True, max_length=128, return_tensors="pt")
model = BertModel.from_pretrained(MODEL, attn_implementation="eager").eval()
with torch.no_grad():
    out = model(**enc)
    out64 = model.double()(**enc)
diff_h = (out.last_hidden_state.double() - out64.last_hidden_state).abs().max().item()
diff_p = (out.pooler_output.double() - out64.pooler_output).abs().max().item()

os.makedirs(OUT, exist_ok=True)
save_file({
    "input_ids": enc["input_ids"].contiguous(),
    "attention_mask": enc["attention_mask"].contiguous(),
    "token_type_ids": enc["token_type_ids"].contiguous(),
    "last_hidden_state": out.last_hidden_state.float().contiguous(),
    "pooler_output": out.pooler_output.float().contiguous(),
}, os.path.join(OUT, "outputs.safetensors"), metadata={
    "torch": torch.__version__, "transformers": transformers.__version__,
    "f32_vs_f64_max_abs_diff_last_hidden_state": f"{diff_h:.3e}",
    "f32_vs_f64_max_abs_diff_pooler_output": f"{diff_p:.3e}",
    "review": REVIEW,
})
lengths = enc["attention_mask"].sum(1).tolist()
print(f"torch {torch.__version__}, transformers {transformers.__version__}, tokenizers "
      f"{__import__('tokenizers').__version__}; shape {tuple(enc['input_ids'].shape)}, lengths {lengths}; "
      f"f32 vs f64 max |diff|: last_hidden_state {diff_h:.3e}, pooler_output {diff_p:.3e}")
