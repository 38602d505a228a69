"""Reading the IMDB reviews (Large Movie Review Dataset) for the by-hand scripts in tools/.

One copy of what the fixture makers (tools/fixtures/: make_imdb_sample.py, make_input_fixtures.py,
make_minilm_fixture.py) and the PyTorch scripts (tools/pytorch/: recipe_torch.py, replay_torch.py,
demo_recipe_torch.py, head_draws.py) read: every labelled review of an IMDB
tarball by its member name, a review's star rating from its file name, and given reviews by name
from a tarball or an extracted aclImdb folder. Standard library only. Those scripts, one folder
beside this one, import it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import imdb_io
"""

import os
import tarfile


def labeled_reviews(tarball):
    """{member name: text} of every labelled review in an IMDB tarball: the files
    <top>/{train,test}/{pos,neg}/<id>_<rating>.txt (not unsup/, README or the vocabulary)."""
    out = {}
    with tarfile.open(tarball) as tar:
        for m in tar:
            parts = m.name.split("/")
            if m.isfile() and len(parts) == 4 and parts[1] in ("train", "test") and parts[2] in ("pos", "neg"):
                out[m.name] = tar.extractfile(m).read().decode("utf-8")
    return out


def rating(name):
    """The reviewer's star rating, from a review's file name <id>_<rating>.txt."""
    return int(name.rsplit("_", 1)[1].split(".")[0])


def read_reviews(data, sources):
    """Texts of `sources` (archive member names or paths below an IMDB folder)."""
    want, out = set(sources), {}
    if os.path.isdir(data):
        parent = os.path.dirname(os.path.abspath(data))
        for s in want:
            for base in (parent, data):
                p = os.path.join(base, s)
                if os.path.isfile(p):
                    out[s] = open(p, encoding="utf-8").read()
                    break
    else:
        with tarfile.open(data) as tar:
            for m in tar:
                if m.name in want:
                    out[m.name] = tar.extractfile(m).read().decode("utf-8")
    missing = want - out.keys()
    if missing:
        raise SystemExit(f"{len(missing)} examples not found in {data}, e.g. {sorted(missing)[0]}")
    return out
