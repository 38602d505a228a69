#!/usr/bin/env python3
"""Makes tests/fixtures/tiny_bert/: one tiny random BERT saved in every checkpoint format the
loader reads, plus the outputs Hugging Face's BertModel gives for three padded sequences.

Two stages, because torch and tensorflow live in different virtual environments:

    /work/venvs/torch/bin/python tools/make_tiny_bert_fixtures.py torch   # torch, transformers, safetensors
    /work/venvs/tf/bin/python    tools/make_tiny_bert_fixtures.py tf      # tensorflow-cpu, safetensors

The tf stage reads the f32 weights the torch stage wrote, so every format holds the same numbers.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tiny_bert")
SEED = 1234

CONFIG = dict(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
    max_position_embeddings=40, type_vocab_size=2, hidden_act="gelu", hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1, layer_norm_eps=1e-12, initializer_range=0.02,
)

# Three sequences, [CLS]=2 ... [SEP]=3, padded with [PAD]=0 to T=8; the second is a sentence pair.
INPUT_IDS = [
    [2, 10, 11, 12, 13, 3, 0, 0],
    [2, 20, 21, 3, 30, 31, 32, 3],
    [2, 40, 3, 0, 0, 0, 0, 0],
]
TOKEN_TYPE_IDS = [
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 1, 1, 1],
    [0, 0, 0, 0, 0, 0, 0, 0],
]
ATTENTION_MASK = [[1 if t != 0 else 0 for t in row] for row in INPUT_IDS]


def vocab():
    words = ["the", "movie", "was", "great", "bad", "film", "good", "not", "and", "a", "is", "it",
             "this", "that", "of", "to", "in", "i", "you", "he", "she", "they", "we", "so", "very",
             "meh", "ok", "!", ".", ",", "?", "'"]
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    v += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)] + words
    assert len(v) == CONFIG["vocab_size"], len(v)
    return v


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def stage_torch():
    import numpy as np
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    torch.manual_seed(SEED)
    config = BertConfig(**CONFIG, attn_implementation="eager")
    model = BertModel(config).eval()
    # HF's init (std 0.02) leaves attention almost uniform; larger weights make masking and
    # softmax visible in the outputs.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.2)
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    C = CONFIG["hidden_size"]

    def config_json(d):
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "config.json"), dict(CONFIG, architectures=["BertModel"], model_type="bert",
                                                        pad_token_id=0, position_embedding_type="absolute"))

    # (a) BertForPreTraining-style: `bert.` prefix, pre-training heads, the I64 position_ids buffer.
    heads = {
        "cls.predictions.bias": 0.1 * torch.randn(CONFIG["vocab_size"]),
        "cls.predictions.transform.dense.weight": 0.2 * torch.randn(C, C),
        "cls.predictions.transform.dense.bias": 0.1 * torch.randn(C),
        "cls.predictions.transform.LayerNorm.weight": 1.0 + 0.1 * torch.randn(C),
        "cls.predictions.transform.LayerNorm.bias": 0.1 * torch.randn(C),
        "cls.seq_relationship.weight": 0.2 * torch.randn(2, C),
        "cls.seq_relationship.bias": 0.1 * torch.randn(2),
    }
    d = os.path.join(OUT, "safetensors")
    config_json(d)
    prefixed = {"bert." + k: v for k, v in sd.items()}
    prefixed["bert.embeddings.position_ids"] = torch.arange(CONFIG["max_position_embeddings"]).unsqueeze(0)
    prefixed.update(heads)
    save_file(prefixed, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})

    # (b) pytorch_model.bin, BertModel names. Some tensors are saved as views so the loader must
    # honour strides and storage offsets: layer 0's query weight is a transpose of a transpose
    # (strides (1, C)); layer 1's q/k/v weights and biases are slices of one fused storage.
    d = os.path.join(OUT, "pytorch")
    config_json(d)
    # Start from a real state_dict(): an OrderedDict whose `_metadata` attribute pickles as a BUILD.
    bin_sd = model.state_dict()
    assert hasattr(bin_sd, "_metadata")
    for k in sd:
        bin_sd[k] = sd[k]
    q0 = "encoder.layer.0.attention.self.query.weight"
    bin_sd[q0] = sd[q0].t().contiguous().t()
    assert not bin_sd[q0].is_contiguous()
    for kind in ["weight", "bias"]:
        names = [f"encoder.layer.1.attention.self.{p}.{kind}" for p in ["query", "key", "value"]]
        fused = torch.cat([sd[n] for n in names], 0)
        for i, n in enumerate(names):
            bin_sd[n] = fused[i * C:(i + 1) * C]
    torch.save(bin_sd, os.path.join(d, "pytorch_model.bin"))
    back = torch.load(os.path.join(d, "pytorch_model.bin"))
    assert back[q0].stride() == (1, C) and back["encoder.layer.1.attention.self.key.weight"].storage_offset() == C * C
    assert all(torch.equal(back[k], sd[k]) for k in sd)

    # (b') the spelling of pytorch-pretrained-bert: `bert.` prefix, LayerNorm gamma/beta.
    d = os.path.join(OUT, "pytorch_legacy_names")
    config_json(d)
    legacy = {"bert." + k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
              for k, v in sd.items()}
    torch.save(legacy, os.path.join(d, "pytorch_model.bin"))

    # (c) no pooler
    d = os.path.join(OUT, "no_pooler")
    config_json(d)
    save_file({k: v for k, v in sd.items() if not k.startswith("pooler.")}, os.path.join(d, "model.safetensors"))

    # f16 and bf16 copies (round to nearest even, as half::f16::from_f32 does)
    for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
        d = os.path.join(OUT, name)
        config_json(d)
        save_file({k: v.to(dtype) for k, v in sd.items()}, os.path.join(d, "model.safetensors"))

    # Expected outputs: eval mode (no dropout), computed in float64 from the f32 weights.
    ids = torch.tensor(INPUT_IDS)
    mask = torch.tensor(ATTENTION_MASK)
    types = torch.tensor(TOKEN_TYPE_IDS)
    with torch.no_grad():
        out64 = model.double()(input_ids=ids, attention_mask=mask, token_type_ids=types)
        out32 = model.float()(input_ids=ids, attention_mask=mask, token_type_ids=types)
    diff = (out64.last_hidden_state - out32.last_hidden_state.double()).abs().max().item()
    save_file({
        "input_ids": ids, "attention_mask": mask, "token_type_ids": types,
        "last_hidden_state": out64.last_hidden_state.float().contiguous(),
        "pooler_output": out64.pooler_output.float().contiguous(),
        "last_hidden_state_f64": out64.last_hidden_state.contiguous(),
        "pooler_output_f64": out64.pooler_output.contiguous(),
    }, os.path.join(OUT, "expected_outputs.safetensors"),
        metadata={"torch": torch.__version__, "transformers": transformers.__version__,
                  "f32_vs_f64_max_abs_diff": f"{diff:.3e}"})
    print(f"torch stage done: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"numpy {np.__version__}; f32 vs f64 last_hidden_state max |diff| {diff:.3e}")


def tf_name(hf):
    """Hugging Face BertModel name -> Google BERT variable name, and whether to transpose."""
    n = hf.replace("encoder.layer.", "encoder.layer_")
    parts = n.split(".")
    if parts[-2].endswith("_embeddings"):
        return "bert/" + "/".join(parts[:-1]), False
    if parts[-2] == "LayerNorm":
        parts[-1] = {"weight": "gamma", "bias": "beta"}[parts[-1]]
        return "bert/" + "/".join(parts), False
    if parts[-1] == "weight":
        parts[-1] = "kernel"
        return "bert/" + "/".join(parts), True
    return "bert/" + "/".join(parts), False


def stage_tf():
    import numpy as np
    import tensorflow as tf
    from safetensors.numpy import load_file

    st = load_file(os.path.join(OUT, "safetensors", "model.safetensors"))
    rng = np.random.default_rng(SEED)
    variables = {}
    for k, v in st.items():
        if k.startswith("bert.") and v.dtype == np.float32:
            name, transpose = tf_name(k[len("bert."):])
            variables[name] = np.ascontiguousarray(v.T) if transpose else v
    # Fine-tuned Google checkpoints also carry Adam slots for every variable and a step counter.
    for name in list(variables):
        variables[name + "/adam_m"] = rng.standard_normal(variables[name].shape).astype(np.float32) * 1e-3
        variables[name + "/adam_v"] = rng.random(variables[name].shape).astype(np.float32) * 1e-6
    variables["global_step"] = np.array(1000, dtype=np.int64)
    # Pre-training heads under their original names (modeling.py / run_pretraining.py).
    variables["cls/predictions/transform/dense/kernel"] = np.ascontiguousarray(st["cls.predictions.transform.dense.weight"].T)
    variables["cls/predictions/transform/dense/bias"] = st["cls.predictions.transform.dense.bias"]
    variables["cls/predictions/transform/LayerNorm/gamma"] = st["cls.predictions.transform.LayerNorm.weight"]
    variables["cls/predictions/transform/LayerNorm/beta"] = st["cls.predictions.transform.LayerNorm.bias"]
    variables["cls/predictions/output_bias"] = st["cls.predictions.bias"]
    variables["cls/seq_relationship/output_weights"] = st["cls.seq_relationship.weight"]
    variables["cls/seq_relationship/output_bias"] = st["cls.seq_relationship.bias"]

    d = os.path.join(OUT, "tf")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("bert_model.ckpt"):
            os.remove(os.path.join(d, f))
    names = sorted(variables)
    # SaveV2 is the op tf.compat.v1.train.Saver runs: it writes <prefix>.index and .data-00000-of-00001.
    tf.raw_ops.SaveV2(prefix=os.path.join(d, "bert_model.ckpt"), tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=[tf.constant(variables[n]) for n in names])
    reader = tf.train.load_checkpoint(os.path.join(d, "bert_model.ckpt"))
    for n in names:
        assert np.array_equal(reader.get_tensor(n), variables[n]), n
    google = {k: CONFIG[k] for k in ["attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob", "hidden_size",
                                      "initializer_range", "intermediate_size", "max_position_embeddings",
                                      "num_attention_heads", "num_hidden_layers", "type_vocab_size", "vocab_size"]}
    write_json(os.path.join(d, "bert_config.json"), google)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab()) + "\n")
    print(f"tf stage done: tensorflow {tf.__version__}, numpy {np.__version__}; {len(names)} variables")


if __name__ == "__main__":
    stage = sys.argv[1] if len(sys.argv) > 1 else ""
    if stage == "torch":
        stage_torch()
    elif stage == "tf":
        stage_tf()
    else:
        sys.exit(__doc__)
