//! Bad input, one case a row: every row runs the `wgbert` binary as a user would, on a broken
//! model, data set, option or machine, and checks that it exits non-zero with one message naming
//! the file, tensor, field or limit at fault, and that no panic reaches the user.
//!
//! The rows share one tiny model (tests/fixtures/tiny_bert_grad, hidden 32, vocab 300) and one
//! tiny JSONL data set; each row breaks one thing in a copy of them.

mod common;
use common::{temp, tiny_data, tiny_model};

use std::path::{Path, PathBuf};
use std::process::Command;

/// One row of the table: what is run, and what the user must be told.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Every one of these must appear in the output (stderr and stdout together).
    expect: Vec<String>,
    /// Most rows must fail; a few (a huge review) must succeed with a notice.
    succeeds: bool,
    /// For hostile input: the most resident memory (MiB) and CPU time (s) the run may take.
    bounds: Option<(f64, f64)>,
}

impl Case {
    fn within(self, peak_mib: f64, cpu_s: f64) -> Case {
        Case { bounds: Some((peak_mib, cpu_s)), ..self }
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A copy of the tiny model in `dir/name`, ready to be broken.
fn model_copy(dir: &Path, name: &str) -> PathBuf {
    let good = dir.join("good-model");
    let m = dir.join(name);
    std::fs::create_dir_all(&m).unwrap();
    for e in std::fs::read_dir(&good).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), m.join(e.file_name())).unwrap();
    }
    m
}

/// A safetensors file as (its JSON header, its data section).
fn split_safetensors(bytes: &[u8]) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), bytes[8 + n..].to_vec())
}

fn join_safetensors(header: &serde_json::Map<String, serde_json::Value>, data: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

/// A copy of the model whose safetensors header `edit` changes.
fn edited_header(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> PathBuf {
    let m = model_copy(dir, name);
    let (mut header, data) = split_safetensors(&std::fs::read(m.join("model.safetensors")).unwrap());
    edit(&mut header);
    std::fs::write(m.join("model.safetensors"), join_safetensors(&header, &data)).unwrap();
    m
}

/// A copy of the model with a vocabulary of `vocab` rows (the added rows are zeros).
fn wider_vocab(dir: &Path, name: &str, vocab: usize) -> PathBuf {
    let m = model_copy(dir, name);
    let (header, data) = split_safetensors(&std::fs::read(m.join("model.safetensors")).unwrap());
    let (mut out_header, mut out_data) = (serde_json::Map::new(), Vec::new());
    for k in by_offset(&header) {
        let mut t = header[&k].clone();
        let (a, b) = (t["data_offsets"][0].as_u64().unwrap() as usize, t["data_offsets"][1].as_u64().unwrap() as usize);
        let start = out_data.len();
        out_data.extend_from_slice(&data[a..b]);
        if k.ends_with("word_embeddings.weight") {
            let width = t["shape"][1].as_u64().unwrap() as usize;
            out_data.resize(start + vocab * width * 4, 0);
            t["shape"] = serde_json::json!([vocab, width]);
        }
        t["data_offsets"] = serde_json::json!([start, out_data.len()]);
        out_header.insert(k, t);
    }
    std::fs::write(m.join("model.safetensors"), join_safetensors(&out_header, &out_data)).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(m.join("config.json")).unwrap()).unwrap();
    cfg["vocab_size"] = vocab.into();
    std::fs::write(m.join("config.json"), cfg.to_string()).unwrap();
    m
}

/// The names of the header's tensors, in the order of their data.
fn by_offset(header: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    let mut v: Vec<(u64, String)> = header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, t)| (t["data_offsets"][0].as_u64().unwrap(), k.clone()))
        .collect();
    v.sort();
    v.into_iter().map(|(_, k)| k).collect()
}

/// What a run cost: peak resident memory (MiB) and CPU time (user + system, s), as the kernel
/// accounted them for the child; None where they cannot be had.
type Cost = Option<(f64, f64)>;

fn run(c: &Case) -> (bool, String, Cost) {
    use std::process::Stdio;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wgbert"));
    cmd.args(&c.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in &c.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("running wgbert");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let (out, err) = (drain(Box::new(child.stdout.take().unwrap())), drain(Box::new(child.stderr.take().unwrap())));
    let (ok, cost) = wait_with_cost(child);
    (ok, err.join().unwrap() + &out.join().unwrap(), cost)
}

/// Reaps the child with wait4, which returns its resource use: the peak is the kernel's own
/// high-water mark, not a sample that a short spike could slip between.
#[cfg(unix)]
fn wait_with_cost(child: std::process::Child) -> (bool, Cost) {
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: the pid is our own unreaped child; status and usage are valid for writing.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    // ru_maxrss is in KiB on Linux, in bytes on macOS.
    let kib = if cfg!(target_os = "macos") { usage.ru_maxrss as f64 / 1024.0 } else { usage.ru_maxrss as f64 };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, Some((kib / 1024.0, secs(usage.ru_utime) + secs(usage.ru_stime))))
}

#[cfg(not(unix))]
fn wait_with_cost(mut child: std::process::Child) -> (bool, Cost) {
    (child.wait().expect("waiting for wgbert").success(), None)
}

#[test]
fn every_bad_input_is_one_clear_message() {
    let dir = temp("errors-table");
    let good = tiny_model(&dir.join("tmp"));
    std::fs::rename(&good, dir.join("good-model")).unwrap();
    let good = dir.join("good-model");
    let data = tiny_data(&dir, "train.jsonl", 24, 0);
    let out = |name: &str| s(&dir.join("runs").join(name));
    // `wgbert train` on a model and data: the command most bad input meets first.
    let train = |name: &str, model: &Path, data: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> =
            ["train", "--model", &s(model), "--data", &s(data), "--out", &out(name), "--epochs", "1"]
                .iter()
                .map(|x| x.to_string())
                .collect();
        for (flag, default) in [("--batch-size", "8"), ("--max-len", "16")] {
            if !extra.contains(&flag) {
                a.extend([flag.to_string(), default.to_string()]);
            }
        }
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let fails = |name: &'static str, args: Vec<String>, expect: &[&str]| Case {
        name,
        args,
        env: vec![],
        expect: expect.iter().map(|x| x.to_string()).collect(),
        succeeds: false,
        bounds: None,
    };
    let mut cases = Vec::new();

    // ---- the model folder ----
    let missing = dir.join("no-such-model");
    cases.push(fails("missing model folder", train("m1", &missing, &data, &[]), &[&s(&missing), "no model folder"]));

    let m = model_copy(&dir, "no-config");
    std::fs::remove_file(m.join("config.json")).unwrap();
    cases.push(fails("config.json missing", train("m2", &m, &data, &[]), &["file not found", "config.json"]));

    let m = model_copy(&dir, "config-not-json");
    std::fs::write(m.join("config.json"), "{\"hidden_size\": 32,").unwrap();
    cases.push(fails("config.json not JSON", train("m3", &m, &data, &[]), &["config.json", "malformed JSON"]));

    let m = model_copy(&dir, "config-no-hidden");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(m.join("config.json")).unwrap()).unwrap();
    cfg.as_object_mut().unwrap().remove("hidden_size");
    std::fs::write(m.join("config.json"), cfg.to_string()).unwrap();
    cases.push(fails(
        "config.json missing a field",
        train("m4", &m, &data, &[]),
        &["model.safetensors does not fit", "does not set hidden_size", "expected shape [300, 768]"],
    ));

    let m = model_copy(&dir, "config-bad-field");
    cfg.as_object_mut().unwrap().insert("hidden_size".into(), "wide".into());
    std::fs::write(m.join("config.json"), cfg.to_string()).unwrap();
    cases.push(fails("config.json field of the wrong type", train("m5", &m, &data, &[]), &["malformed hidden_size"]));

    let m = model_copy(&dir, "vocab-empty");
    std::fs::write(m.join("vocab.txt"), "").unwrap();
    cases.push(fails("vocab.txt empty", train("m6", &m, &data, &[]), &["vocab.txt", "empty"]));

    let m = model_copy(&dir, "vocab-no-unk");
    let vocab = std::fs::read_to_string(good.join("vocab.txt")).unwrap().replace("[UNK]\n", "[UNKNOWN]\n");
    std::fs::write(m.join("vocab.txt"), vocab).unwrap();
    cases.push(fails("vocab.txt without [UNK]", train("m7", &m, &data, &[]), &["vocab.txt", "[UNK]"]));

    let m = model_copy(&dir, "vocab-too-big");
    let mut vocab = std::fs::read_to_string(good.join("vocab.txt")).unwrap();
    for i in 0..50 {
        vocab += &format!("extra{i}\n");
    }
    std::fs::write(m.join("vocab.txt"), vocab).unwrap();
    cases.push(fails(
        "vocab.txt larger than the model's vocabulary",
        train("m8", &m, &data, &[]),
        &["vocab.txt", "350 tokens", "vocab_size of 300"],
    ));

    // ---- model.safetensors ----
    let m = model_copy(&dir, "st-truncated");
    let bytes = std::fs::read(m.join("model.safetensors")).unwrap();
    std::fs::write(m.join("model.safetensors"), &bytes[..bytes.len() - 1000]).unwrap();
    // The message names the first tensor the cut reaches into.
    let (header, data_section) = split_safetensors(&bytes);
    let kept = data_section.len() as u64 - 1000;
    let cut = by_offset(&header).into_iter().find(|k| header[k]["data_offsets"][1].as_u64().unwrap() > kept).unwrap();
    cases.push(fails("safetensors truncated", train("s1", &m, &data, &[]), &["model.safetensors", &cut, "truncated"]));

    let m = model_copy(&dir, "st-header-past-end");
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&(bytes.len() as u64 * 2).to_le_bytes());
    std::fs::write(m.join("model.safetensors"), b).unwrap();
    cases.push(fails(
        "safetensors header length past the end",
        train("s2", &m, &data, &[]),
        &["model.safetensors", "header"],
    ));

    let m = model_copy(&dir, "st-header-not-json");
    let mut b = bytes.clone();
    b[8..16].copy_from_slice(b"not json");
    std::fs::write(m.join("model.safetensors"), b).unwrap();
    cases.push(fails(
        "safetensors header not JSON",
        train("s3", &m, &data, &[]),
        &["model.safetensors", "malformed header"],
    ));

    let m = edited_header(&dir, "st-overlap", |h| {
        let order = by_offset(h);
        let first_end = h[&order[0]]["data_offsets"][1].as_u64().unwrap();
        let second = h.get_mut(&order[1]).unwrap();
        let len = second["data_offsets"][1].as_u64().unwrap() - second["data_offsets"][0].as_u64().unwrap();
        second["data_offsets"] = serde_json::json!([first_end - 4, first_end - 4 + len]);
    });
    cases.push(fails(
        "safetensors offsets overlapping",
        train("s4", &m, &data, &[]),
        &["model.safetensors", "overlaps"],
    ));

    let m = edited_header(&dir, "st-out-of-range", |h| {
        let last = by_offset(h).pop().unwrap();
        let t = h.get_mut(&last).unwrap();
        let start = t["data_offsets"][0].as_u64().unwrap();
        t["data_offsets"] = serde_json::json!([start + 1_000_000, start + 1_000_000 + 4]);
        t["shape"] = serde_json::json!([1]);
    });
    cases.push(fails(
        "safetensors offset out of range",
        train("s5", &m, &data, &[]),
        &["model.safetensors", "classifier.weight", "past the end of the data section"],
    ));

    let m = edited_header(&dir, "st-dtype", |h| {
        h.get_mut("bert.embeddings.word_embeddings.weight").unwrap()["dtype"] = "I32".into();
    });
    cases.push(fails(
        "safetensors dtype unsupported",
        train("s6", &m, &data, &[]),
        &["embeddings.word_embeddings.weight", "unsupported dtype I32"],
    ));

    let m = edited_header(&dir, "st-missing-tensor", |h| {
        let t = h.remove("bert.encoder.layer.1.output.dense.weight").unwrap();
        h.insert("bert.encoder.layer.1.output.dense.renamed".into(), t);
    });
    cases.push(fails(
        "safetensors tensor missing",
        train("s7", &m, &data, &[]),
        &["model.safetensors does not fit", "encoder.layer.1.output.dense.weight is missing"],
    ));

    let m = edited_header(&dir, "st-shape", |h| {
        h.get_mut("bert.encoder.layer.0.intermediate.dense.weight").unwrap()["shape"] = serde_json::json!([32, 64]);
    });
    cases.push(fails(
        "safetensors tensor of the wrong shape",
        train("s8", &m, &data, &[]),
        &["encoder.layer.0.intermediate.dense.weight", "expected shape [64, 32], found [32, 64]"],
    ));

    // A header asking for 2^68 elements: refused from the header alone (run by `embed`, which
    // reads the model before it opens a GPU).
    let m = edited_header(&dir, "st-huge-shape", |h| {
        h.get_mut("bert.embeddings.word_embeddings.weight").unwrap()["shape"] =
            serde_json::json!([1u64 << 32, 1u64 << 32, 16]);
    });
    cases.push(
        fails(
            "safetensors shape of 2^68 elements",
            vec!["embed".into(), "--model".into(), s(&m)],
            &["model.safetensors: malformed header"],
        )
        .within(200.0, 1.0),
    );

    // ---- pytorch_model.bin ----
    let m = model_copy(&dir, "bin-not-zip");
    std::fs::remove_file(m.join("model.safetensors")).unwrap();
    std::fs::write(m.join("pytorch_model.bin"), b"<html>rate limited</html>").unwrap();
    cases.push(fails("pytorch_model.bin not a zip", train("p1", &m, &data, &[]), &["pytorch_model.bin", "not a zip"]));

    let m = model_copy(&dir, "bin-opcode");
    std::fs::remove_file(m.join("model.safetensors")).unwrap();
    let mut zip = std::fs::read("tests/fixtures/tiny_bert/pytorch/pytorch_model.bin").unwrap();
    // data.pkl is a STORED entry: its local header, its name, then the pickle (PROTO 2, then the
    // first real opcode at byte 2, which becomes protocol 0's text INT, 'I').
    let at = zip.windows(8).position(|w| w == b"data.pkl").expect("data.pkl in the fixture");
    let local = zip[..at].windows(4).rposition(|w| w == b"PK\x03\x04").unwrap();
    let name_len = u16::from_le_bytes([zip[local + 26], zip[local + 27]]) as usize;
    let extra_len = u16::from_le_bytes([zip[local + 28], zip[local + 29]]) as usize;
    let pkl = local + 30 + name_len + extra_len;
    assert_eq!(&zip[pkl..pkl + 2], &[0x80, 0x02], "the fixture's pickle starts with PROTO 2");
    zip[pkl + 2] = b'I';
    std::fs::write(m.join("pytorch_model.bin"), zip).unwrap();
    cases.push(fails(
        "pytorch_model.bin with an unsupported pickle opcode",
        train("p2", &m, &data, &[]),
        &["pytorch_model.bin", "unsupported pickle opcode 0x49 at byte 2"],
    ));

    // Hostile pickles, each bounded by its own size. `embed` loads the model before it opens a
    // GPU, so the run is the parse: the bounds are on the whole process.
    let hostile = |name: &str, pkl: Vec<u8>| {
        let m = model_copy(&dir, name);
        std::fs::remove_file(m.join("model.safetensors")).unwrap();
        let zip = wgbert::checkpoint::zip_archive(&[("archive/data.pkl".to_string(), pkl)]).unwrap();
        std::fs::write(m.join("pytorch_model.bin"), zip).unwrap();
        vec!["embed".to_string(), "--model".into(), s(&m)]
    };
    let pickle = |body: &[u8]| [&[0x80, 2][..], body, b"."].concat();
    // 59 bytes: one int, then DUP and TUPLE2 27 times: a tree of 2^27 leaves (30 GB as copies).
    let bomb = pickle(&[&b"K\x01"[..], &b"2\x86".repeat(27)].concat());
    cases.push(
        fails(
            "pickle bomb of depth 27 (59 bytes)",
            hostile("bin-bomb", bomb),
            &["pytorch_model.bin: malformed archive/data.pkl", "pickle bomb"],
        )
        .within(200.0, 1.0),
    );
    // A list grown one int at a time, every version kept in the memo: n² values from 8n bytes.
    let versions: Vec<u8> = (0..20_000u32).flat_map(|i| [&b"K\x00ar"[..], &i.to_le_bytes()].concat()).collect();
    cases.push(
        fails(
            "pickle whose memo keeps every version of a list",
            hostile("bin-memo", pickle(&[&b"]"[..], &versions].concat())),
            &["pytorch_model.bin: malformed archive/data.pkl", "pickle bomb"],
        )
        .within(200.0, 1.0),
    );
    // A million nested one-tuples (1 byte a level): a stack overflow when such a value is dropped.
    let deep = pickle(&[&b")"[..], &b"\x85".repeat(1_000_000)].concat());
    cases.push(
        fails("pickle nesting a million levels", hostile("bin-deep", deep), &["nest deeper than 200 levels"])
            .within(200.0, 1.0),
    );

    // ---- the data ----
    let nothing = dir.join("no-such-data");
    cases.push(fails(
        "data folder missing",
        train("d1", &good, &nothing, &[]),
        &[&s(&nothing), "no such file or folder"],
    ));
    let empty = dir.join("empty-folder");
    std::fs::create_dir_all(&empty).unwrap();
    cases.push(fails("data folder empty", train("d2", &good, &empty, &[]), &[&s(&empty)]));
    let one = dir.join("one-class");
    std::fs::create_dir_all(one.join("train/pos")).unwrap();
    std::fs::write(one.join("train/pos/0_9.txt"), "great").unwrap();
    cases.push(fails("data with one class only", train("d3", &good, &one, &[]), &["1 class folder(s) (pos)"]));
    let bad = dir.join("not-utf8");
    for c in ["neg", "pos"] {
        std::fs::create_dir_all(bad.join("train").join(c)).unwrap();
        std::fs::write(bad.join("train").join(c).join("1_5.txt"), "fine").unwrap();
    }
    std::fs::write(bad.join("train/neg/2_1.txt"), b"caf\xe9 au lait").unwrap();
    cases.push(fails("data with a non-UTF-8 file", train("d4", &good, &bad, &[]), &["2_1.txt", "UTF-8"]));
    std::fs::write(dir.join("no-label.csv"), "text,stars\ngood,5\nbad,1\n").unwrap();
    cases.push(fails(
        "CSV missing the label column",
        train("d5", &good, &dir.join("no-label.csv"), &[]),
        &["no-label.csv", "no column \"label\""],
    ));
    std::fs::write(dir.join("test-bad-label.csv"), "text,label\nmeh,neutral\n").unwrap();
    cases.push(fails(
        "CSV label that is not a class",
        train("d6", &good, &data, &["--test-data", &s(&dir.join("test-bad-label.csv"))]),
        &["test-bad-label.csv", "label \"neutral\" is not one of the model's classes (neg, pos)"],
    ));
    std::fs::write(dir.join("fields.csv"), "text,label\ngood movie,pos\ngreat, really,pos\nbad,neg\n").unwrap();
    cases.push(fails(
        "CSV record with more fields than the header",
        train("d8", &good, &dir.join("fields.csv"), &[]),
        &["fields.csv:3: the record has 3 fields, the header 2", "quote the field"],
    ));
    let mut lines = std::fs::read_to_string(&data).unwrap();
    lines += "{\"text\": 5, \"label\": \"pos\"}\n";
    std::fs::write(dir.join("number.jsonl"), lines).unwrap();
    cases.push(fails(
        "JSONL text field that is a number",
        train("d10", &good, &dir.join("number.jsonl"), &[]),
        &["number.jsonl:25: text field \"text\" is a number, not a string"],
    ));
    // An IMDB tarball whose one member claims 64 GiB (twelve octal digits) and holds 5 bytes.
    let mut tar = vec![0u8; 512];
    let member = b"aclImdb/train/pos/0_9.txt";
    tar[..member.len()].copy_from_slice(member);
    tar[124..136].copy_from_slice(b"777777777777");
    tar[156] = b'0';
    tar[257..262].copy_from_slice(b"ustar");
    tar.extend(b"great");
    std::fs::write(dir.join("claims.tar"), tar).unwrap();
    cases.push(
        fails(
            "tar member whose header claims more than the archive",
            train("d9", &good, &dir.join("claims.tar"), &[]),
            &["claims.tar", "0_9.txt: its header says 68719476735 bytes, the archive ends after 5"],
        )
        .within(200.0, 5.0),
    );
    let huge = dir.join("huge.jsonl");
    let review = "the movie was very good and great ".repeat(5 * 1024 * 1024 / 34);
    let mut lines = std::fs::read_to_string(&data).unwrap();
    lines += &format!("{{\"text\": \"{review}\", \"label\": \"pos\"}}\n");
    std::fs::write(&huge, lines).unwrap();
    cases.push(Case {
        name: "a 5 MB review is truncated, not refused",
        args: train("d7", &good, &huge, &[]),
        env: vec![],
        expect: vec!["fill all 16 tokens of --max-len".into(), "model exported".into()],
        succeeds: true,
        bounds: None,
    });

    // ---- options and the machine ----
    cases.push(fails(
        "--max-len beyond max_position_embeddings",
        train("o1", &good, &data, &["--max-len", "64"]),
        &["--max-len 64", "max_position_embeddings (16)"],
    ));
    cases.push(fails(
        "--resume of a folder that is no run",
        vec!["train".into(), "--resume".into(), s(&dir)],
        &["not a run folder"],
    ));
    let corrupt_cache = dir.join("corrupt-cache");
    std::fs::create_dir_all(&corrupt_cache).unwrap();
    std::fs::write(corrupt_cache.join("tuning.json"), "{\"format\": 1, \"adapters\": ").unwrap();
    // WGBERT_MAX_BUFFER gives lavapipe a smaller GPU's limits (1 MiB here).
    let wide = wider_vocab(&dir, "vocab-9000", 9000); // 9000 x 32 f32 = 1.15 MB of word embeddings
    cases.push(Case {
        name: "a model over the adapter's buffer limit",
        args: train("g1", &wide, &data, &[]),
        env: vec![("WGBERT_MAX_BUFFER", "1M".into())],
        expect: vec!["embeddings.word_embeddings.weight".into(), "max_buffer_size of 1048576 bytes".into()],
        succeeds: false,
        bounds: None,
    });
    let long = dir.join("long.jsonl");
    let review = |i: usize| {
        format!("{{\"text\": \"the movie was very good and great and fine and nice and loved it {i}\", \"label\": \"{}\"}}\n", ["neg", "pos"][i % 2])
    };
    std::fs::write(&long, (0..400).map(review).collect::<String>()).unwrap();
    cases.push(Case {
        name: "a batch over the adapter's buffer limit",
        args: train("g2", &good, &long, &["--batch-size", "256"]), // 256 x 16 tokens x 64 f32 = 1 MiB
        env: vec![("WGBERT_MAX_BUFFER", "1M".into())],
        expect: vec!["tensor".into(), "max_buffer_size of 1048576 bytes".into(), "smaller batch".into()],
        succeeds: false,
        bounds: None,
    });
    cases.push(Case {
        name: "--precision mixed on an adapter without shader-f16",
        args: train("p1", &good, &data, &["--precision", "mixed"]),
        env: vec![("WGBERT_NO_F16", "1".into())],
        expect: vec!["--precision mixed needs an adapter with the shader-f16 feature".into(), "--precision f32".into()],
        succeeds: false,
        bounds: None,
    });
    cases.push(fails(
        "a loss scale that is no positive number",
        train("p2", &good, &data, &["--precision", "mixed", "--loss-scale", "0"]),
        &["--loss-scale must be a positive number"],
    ));
    cases.push(fails(
        "an unknown --precision",
        train("p3", &good, &data, &["--precision", "half"]),
        &["'half'", "--precision", "f32, mixed"],
    ));
    cases.push(fails(
        "a dropout of 1 or more",
        train("o1", &good, &data, &["--dropout", "1"]),
        &["--dropout 1 must be at least 0 and below 1"],
    ));
    cases.push(fails(
        "a warm-up beyond the run",
        train("o2", &good, &data, &["--warmup", "1.5"]),
        &["--warmup 1.5 must be a fraction of the steps"],
    ));
    cases.push(fails(
        "a negative weight decay",
        train("o3", &good, &data, &["--weight-decay=-0.1"]),
        &["--weight-decay -0.1 must be a number of at least 0"],
    ));
    cases.push(fails(
        "--resume with settings it would ignore",
        vec!["train".into(), "--resume".into(), out("o4"), "--epochs".into(), "3".into(), "--lr".into(), "1e-4".into()],
        &["--resume continues", "with the settings it began with; leave out --epochs, --lr"],
    ));
    cases.push(Case {
        name: "an unknown --tune mode",
        args: vec!["info".into(), "--tune".into(), "fast".into()],
        env: vec![],
        expect: vec!["--tune (or WGBERT_TUNE)=\"fast\"".into(), "expected auto, off or retune".into()],
        succeeds: false,
        bounds: None,
    });
    cases.push(Case {
        name: "a corrupt tuning cache is rebuilt, not fatal",
        args: vec![
            "bench".into(),
            "kernels".into(),
            "--quick".into(),
            "--filter".into(),
            "matmul".into(),
            "--reps".into(),
            "1".into(),
        ],
        env: vec![("WGBERT_CACHE_DIR", s(&corrupt_cache))],
        expect: vec!["tuning cache".into(), "moved it to".into(), "re-tuning".into()],
        succeeds: true,
        bounds: None,
    });
    cases.push(Case {
        name: "a malformed WGBERT_MAX_BUFFER",
        args: vec!["info".into()],
        env: vec![("WGBERT_MAX_BUFFER", "64K".into())],
        expect: vec!["WGBERT_MAX_BUFFER=\"64K\"".into(), "at least 1M".into()],
        succeeds: false,
        bounds: None,
    });
    #[cfg(target_os = "linux")]
    cases.push(Case {
        name: "no adapter at all",
        args: vec!["info".into(), "--backend".into(), "vulkan".into()],
        env: vec![("VK_ICD_FILENAMES", s(&dir.join("none.json"))), ("VK_DRIVER_FILES", s(&dir.join("none.json")))],
        expect: vec!["no GPU adapter found for backend vulkan".into(), "mesa-vulkan-drivers".into()],
        succeeds: false,
        bounds: None,
    });

    let mut failures = Vec::new();
    for c in &cases {
        let (ok, text, cost) = run(c);
        let missing: Vec<&String> = c.expect.iter().filter(|e| !text.contains(e.as_str())).collect();
        let over = match (c.bounds, cost) {
            (Some((mib, secs)), Some((peak, cpu))) if peak > mib || cpu > secs => {
                Some(format!("peak {peak:.0} MiB and {cpu:.2} s of CPU, bounds {mib:.0} MiB and {secs:.2} s"))
            }
            _ => None,
        };
        if ok != c.succeeds || !missing.is_empty() || text.contains("panicked") || over.is_some() {
            failures.push(format!(
                "{}: exit {}, missing {missing:?}{}; output:\n{text}",
                c.name,
                if ok { "0" } else { "non-zero" },
                over.map_or(String::new(), |o| format!(", {o}"))
            ));
        } else {
            // The message the user saw, and what the run cost: the table in one run with --nocapture.
            let said = text.lines().rfind(|l| l.starts_with("error: ") && !l.contains("XDG_RUNTIME_DIR"));
            let cost = cost.map_or(String::new(), |(peak, cpu)| format!("{peak:>5.0} MiB {cpu:>6.2} s"));
            eprintln!("ok  {:<52} {cost}  {}", c.name, said.unwrap_or("(succeeded)"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n"));
    std::fs::remove_dir_all(dir).unwrap();
}
