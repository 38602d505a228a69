//! `wgbert serve` driven over raw HTTP/1.1 on 127.0.0.1: TEI's routes and JSON, the error
//! table (each bad request gets its status and a JSON error), faults (slow, vanished and many
//! clients), the API key, overload (429 at once), and a clean stop on SIGTERM. After each bad
//! request the server must still answer a good one with the right numbers. Every loop is
//! bounded in count and time; every server is killed when its test ends.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wgbert::infer::{embed, logits, normalize, probabilities, Classifier, Encoder, Inputs};

/// A running `wgbert serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(model: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wgbert"))
            .args(["serve", "--model", model.to_str().unwrap(), "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(a.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(120)).expect("the server printed its address within 120 s");
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, lower-cased headers, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("status {}: body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// Asserts an error of TEI's shape: the status, and `{"error": ..., "error_type": kind}`.
    fn assert_error(&self, status: u16, kind: &str) -> String {
        let j = self.json();
        assert_eq!(self.status, status, "{j}");
        assert_eq!(j["error_type"], kind, "{j}");
        j["error"].as_str().expect("an error message").to_string()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// Reads one response (the server closes after it: `Connection: close`).
fn read_reply(mut s: TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
        body = unchunk(&body);
    }
    Reply { status, headers, body }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = connect(addr);
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        head += "Content-Type: application/json\r\n";
    }
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes()).unwrap();
    // A server that answers before reading all of a large body may close early: the reply
    // is read all the same.
    let _ = s.write_all(body);
    read_reply(s)
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    request(addr, "POST", path, &[], body.to_string().as_bytes())
}

fn floats(v: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a list of vectors ({e}): {v}"))
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgbert-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What `wgbert embed --normalize` gives for `texts` (the library path it calls).
fn expected_embeddings(model: &Path, texts: &[&str], max_len: usize) -> Vec<Vec<f32>> {
    let gpu = common::gpu();
    let e = Encoder::load(&gpu, model).unwrap();
    let texts: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
    let mut v = embed(&gpu, &e.model, &e.tokenizer, Inputs::Texts(&texts), max_len, e.pooling, 32).unwrap();
    normalize(&mut v);
    v
}

const GOOD: [&str; 3] = ["the movie was very good", "awful plot", "a"];

/// The good request every fault test repeats afterwards: the server still answers, correctly.
fn assert_answers(addr: SocketAddr, expected: &[Vec<f32>]) {
    let r = post(addr, "/embed", &json!({ "inputs": GOOD }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let d = max_diff(&floats(&r.json()), expected);
    assert!(d <= 1e-6, "embeddings differ from `embed`'s by {d}");
}

#[test]
fn embed_routes_answer_as_tei_and_equal_embed() {
    let dir = scratch("routes");
    let model = common::tiny_model(&dir);
    let server = Server::start(&model, &["--auto-truncate", "false"]);
    let a = server.addr;
    let expected = expected_embeddings(&model, &GOOD, 16);
    assert_answers(a, &expected);

    // A single string answers a list of one vector; normalize: false gives the raw pooling.
    let one = post(a, "/embed", &json!({ "inputs": GOOD[0] }));
    assert!(max_diff(&floats(&one.json()), &expected[..1]) <= 1e-6);
    assert!(one.header("x-inference-time").is_some() && one.header("x-queue-time").is_some());
    let raw = floats(&post(a, "/embed", &json!({ "inputs": GOOD[0], "normalize": false })).json());
    let norm = raw[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "normalize: false still gave a unit vector");

    // POST / answers as /embed for an embedding model (huggingface_hub posts there).
    assert!(max_diff(&floats(&post(a, "/", &json!({ "inputs": GOOD })).json()), &expected) <= 1e-6);

    // OpenAI: floats, and base64 of little-endian f32, with token counts.
    let f = post(a, "/v1/embeddings", &json!({ "input": GOOD, "model": "x" })).json();
    assert_eq!(f["object"], "list");
    let from_floats: Vec<Vec<f32>> =
        f["data"].as_array().unwrap().iter().map(|d| floats(&json!([d["embedding"]])).remove(0)).collect();
    assert!(max_diff(&from_floats, &expected) <= 1e-6);
    let tokens = f["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(tokens >= 3 * 3, "usage: {}", f["usage"]);
    let b = post(a, "/v1/embeddings", &json!({ "input": GOOD, "encoding_format": "base64" })).json();
    let from_b64: Vec<Vec<f32>> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(d["embedding"].as_str().unwrap()).unwrap();
            bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
        })
        .collect();
    assert!(max_diff(&from_b64, &expected) <= 1e-6);

    // /tokenize: [CLS] ... [SEP] with ids and pieces.
    let t = post(a, "/tokenize", &json!({ "inputs": "the movie" })).json();
    let toks = t[0].as_array().unwrap();
    assert_eq!(toks.first().unwrap()["text"], "[CLS]");
    assert_eq!(toks.last().unwrap()["special"], true);
    assert_eq!(toks.len(), 4, "{t}");
    let bare = post(a, "/tokenize", &json!({ "inputs": ["the movie", ""], "add_special_tokens": false })).json();
    assert_eq!(
        bare,
        json!([[{"id": 17, "text": "the", "special": false, "start": null, "stop": null}, {"id": 15, "text": "movie", "special": false, "start": null, "stop": null}], []])
    );

    // /info, /health, /metrics.
    let info = request(a, "GET", "/info", &[], b"").json();
    assert_eq!(info["model_type"]["embedding"]["pooling"], "cls", "{info}");
    assert_eq!(info["max_input_length"], 16);
    assert_eq!(info["max_client_batch_size"], 32);
    assert_eq!(request(a, "GET", "/health", &[], b"").status, 200);
    let m = String::from_utf8(request(a, "GET", "/metrics", &[], b"").body).unwrap();
    assert!(m.contains("wgbert_requests_total{route=\"/embed\",status=\"200\",outcome=\"success\"}"), "{m}");
    assert!(m.contains("wgbert_batch_size_count"), "{m}");
    assert!(m.contains("wgbert_queue_duration_seconds_bucket"), "{m}");
}

#[test]
fn bad_requests_get_their_status_and_a_json_error() {
    let dir = scratch("errors");
    let model = common::tiny_model(&dir);
    let server = Server::start(
        &model,
        &["--auto-truncate", "false", "--max-client-batch-size", "4", "--payload-limit", "100000"],
    );
    let a = server.addr;
    let expected = expected_embeddings(&model, &GOOD, 16);

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"{\"inputs\": [\"a\"".to_vec(), 422, "Validation"),
        ("wrong type", br#"{"inputs": 3}"#.to_vec(), 422, "Validation"),
        ("missing field", br#"{"input": "a"}"#.to_vec(), 422, "Validation"),
        ("empty inputs", br#"{"inputs": []}"#.to_vec(), 400, "Empty"),
        ("over the client batch", json!({ "inputs": vec!["a"; 5] }).to_string().into_bytes(), 422, "Validation"),
        ("invalid UTF-8", b"{\"inputs\": \"ab\xff\xfe\"}".to_vec(), 422, "Validation"),
        ("a body over the payload limit", vec![b' '; 10_000_000], 413, "Payload"),
    ];
    for (what, body, status, kind) in cases {
        let r = request(a, "POST", "/embed", &[], &body);
        let msg = r.assert_error(status, kind);
        eprintln!("{what}: {status} {msg}");
        assert_answers(a, &expected);
    }

    // Over the model's length (16 tokens): an error without truncation, the first 16 tokens with.
    let long = "the movie was very good and the plot was very fine and nice and the film was loved";
    let msg = post(a, "/embed", &json!({ "inputs": long })).assert_error(422, "Validation");
    assert!(msg.contains("must have less than 16 tokens"), "{msg}");
    let cut = post(a, "/embed", &json!({ "inputs": long, "truncate": true }));
    assert_eq!(cut.status, 200);
    let d = max_diff(&floats(&cut.json()), &expected_embeddings(&model, &[long], 16));
    assert!(d <= 1e-6, "truncated embedding differs by {d}");

    // A route the model does not serve.
    post(a, "/predict", &json!({ "inputs": "a" })).assert_error(424, "Backend");
    post(a, "/rerank", &json!({ "query": "a", "texts": ["b"] })).assert_error(424, "Backend");
    assert_answers(a, &expected);
}

#[test]
fn slow_vanished_and_many_clients_leave_the_server_answering() {
    let dir = scratch("faults");
    let model = common::tiny_model(&dir);
    let server = Server::start(&model, &["--read-timeout", "2"]);
    let a = server.addr;
    let expected = expected_embeddings(&model, &GOOD, 16);

    // A client sending its head one byte a second is cut off after the read timeout (2 s):
    // well before it could finish, and others are answered meanwhile.
    let slow = std::thread::spawn(move || {
        let mut s = connect(a);
        let head = b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n";
        let t0 = Instant::now();
        for &byte in head.iter() {
            if s.write_all(&[byte]).is_err() || t0.elapsed() > Duration::from_secs(15) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        t0.elapsed()
    });
    // And one sending its body one byte a second gets 408 with a JSON error.
    let slow_body = std::thread::spawn(move || {
        let mut s = connect(a);
        s.write_all(b"POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 40\r\n\r\n").unwrap();
        let t0 = Instant::now();
        for &byte in br#"{"inputs": "#.iter() {
            if s.write_all(&[byte]).is_err() || t0.elapsed() > Duration::from_secs(6) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        read_reply(s)
    });
    assert_answers(a, &expected);
    let took = slow.join().unwrap();
    assert!(took < Duration::from_secs(12), "the slow client was kept {took:?}");
    slow_body.join().unwrap().assert_error(408, "Timeout");
    assert_answers(a, &expected);

    // Clients that go away: mid-head, mid-body, and after a full request before the answer.
    for partial in
        [&b"POST /embed HTTP/1.1\r\nHost"[..], b"POST /embed HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"inp", &{
            let body = json!({ "inputs": GOOD }).to_string();
            format!("POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
        }]
    {
        for _ in 0..10 {
            let mut s = connect(a);
            s.write_all(partial).unwrap();
            drop(s);
        }
    }
    assert_answers(a, &expected);

    // 1,000 connections open at once, each asking /health as it connects (an idle one would
    // be closed after the read timeout), all answered; then a good request.
    let conns: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = connect(a);
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            s
        })
        .collect();
    let ok = conns.into_iter().map(read_reply).filter(|r| r.status == 200).count();
    assert_eq!(ok, 1000);
    assert_answers(a, &expected);
}

#[test]
fn the_api_key_is_required_where_given() {
    let dir = scratch("key");
    let model = common::tiny_model(&dir);
    let server = Server::start(&model, &["--api-key", "s3cret"]);
    let a = server.addr;
    let body = json!({ "inputs": GOOD }).to_string();
    request(a, "POST", "/embed", &[], body.as_bytes()).assert_error(401, "Unauthorized");
    request(a, "POST", "/embed", &[("Authorization", "Bearer wrong")], body.as_bytes())
        .assert_error(401, "Unauthorized");
    request(a, "POST", "/embed", &[("Authorization", "s3cret")], body.as_bytes()).assert_error(401, "Unauthorized");
    let r = request(a, "POST", "/embed", &[("Authorization", "Bearer s3cret")], body.as_bytes());
    assert_eq!(r.status, 200);
    assert!(max_diff(&floats(&r.json()), &expected_embeddings(&model, &GOOD, 16)) <= 1e-6);
    // Health checks and metrics stay open, as TEI's; POST / is guarded like /embed.
    assert_eq!(request(a, "GET", "/health", &[], b"").status, 200);
    assert_eq!(request(a, "GET", "/", &[], b"").status, 200);
    assert_eq!(request(a, "GET", "/metrics", &[], b"").status, 200);
    request(a, "POST", "/", &[], body.as_bytes()).assert_error(401, "Unauthorized");
    assert_eq!(request(a, "POST", "/", &[("Authorization", "Bearer s3cret")], body.as_bytes()).status, 200);
}

#[test]
fn predict_scores_equal_predict_and_overload_answers_429() {
    let model = Path::new("tests/fixtures/hf_classifier/three_labels");
    let server = Server::start(model, &["--max-concurrent-requests", "4", "--max-client-batch-size", "4"]);
    let a = server.addr;
    let texts = ["the movie was great", "awful", "meh"];
    // What `wgbert predict` computes: every class's probability.
    let gpu = common::gpu();
    let c = Classifier::load(&gpu, model).unwrap();
    let owned: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
    let enc = Inputs::Texts(&owned).encode(&c.tokenizer, 40.min(c.model.config.max_position_embeddings));
    let z = logits(&gpu, &c.model, &enc, c.tokenizer.pad_id(), 32, |_| {}).unwrap();
    let probs = probabilities(&z, c.model.num_labels);
    let check = |answer: &Value, i: usize| {
        let list = answer.as_array().unwrap();
        assert_eq!(list.len(), c.classes.len());
        for w in list.windows(2) {
            assert!(w[0]["score"].as_f64() >= w[1]["score"].as_f64(), "not sorted: {answer}");
        }
        for p in list {
            let k = c.classes.iter().position(|n| n == p["label"].as_str().unwrap()).unwrap();
            let d = (p["score"].as_f64().unwrap() as f32 - probs[i][k]).abs();
            assert!(d <= 1e-6, "input {i}, class {k}: off by {d}");
        }
    };
    let single = post(a, "/predict", &json!({ "inputs": texts[0] }));
    assert_eq!(single.status, 200, "{}", String::from_utf8_lossy(&single.body));
    check(&single.json(), 0);
    let batch = post(a, "/predict", &json!({ "inputs": texts.iter().map(|t| [t]).collect::<Vec<_>>() })).json();
    for i in 0..3 {
        check(&batch[i], i);
    }
    // POST / dispatches to /predict; /embed is refused; pairs are refused by a single-text model.
    check(&post(a, "/", &json!({ "inputs": texts[1] })).json(), 1);
    post(a, "/embed", &json!({ "inputs": "a" })).assert_error(424, "Backend");
    post(a, "/predict", &json!({ "inputs": ["a", "b"] })).assert_error(422, "Validation");
    let info = request(a, "GET", "/info", &[], b"").json();
    assert_eq!(info["model_type"]["classifier"]["id2label"]["0"], c.classes[0].as_str(), "{info}");

    // Overload: 48 clients at once, 4 inputs each, 4 inputs admitted at a time. Each answer is
    // either right or 429 at once; none waits without bound.
    let body = json!({ "inputs": [[texts[0]], [texts[1]], [texts[2]], [texts[0]]] }).to_string();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(48));
    let clients: Vec<_> = (0..48)
        .map(|_| {
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let t0 = Instant::now();
                (request(a, "POST", "/predict", &[], body.as_bytes()), t0.elapsed())
            })
        })
        .collect();
    let (mut ok, mut overloaded) = (0, 0);
    for c in clients {
        let (r, took) = c.join().unwrap();
        match r.status {
            200 => {
                let j = r.json();
                for (i, k) in [0, 1, 2, 0].into_iter().enumerate() {
                    check(&j[i], k);
                }
                ok += 1;
            }
            429 => {
                r.assert_error(429, "Overloaded");
                assert!(took < Duration::from_secs(30), "a 429 took {took:?}");
                overloaded += 1;
            }
            s => panic!("status {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    eprintln!("overload: {ok} answered, {overloaded} answered 429");
    assert!(ok > 0 && overloaded > 0, "{ok} answered, {overloaded} overloaded");
    check(&post(a, "/predict", &json!({ "inputs": texts[2] })).json(), 2);
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_0() {
    let dir = scratch("stop");
    let model = common::tiny_model(&dir);
    let mut server = Server::start(&model, &[]);
    let a = server.addr;
    let expected = expected_embeddings(&model, &GOOD, 16);
    assert_answers(a, &expected);
    // A request whose body is still arriving when the signal comes is answered all the same.
    let body = json!({ "inputs": GOOD }).to_string();
    let mut s = connect(a);
    s.write_all(
        format!("POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len())
            .as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let ok = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap().success();
    assert!(ok);
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(body.as_bytes()).unwrap();
    let r = read_reply(s);
    assert_eq!(r.status, 200);
    assert!(max_diff(&floats(&r.json()), &expected) <= 1e-6);
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "the server did not exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(TcpStream::connect(a).is_err(), "still accepting after the stop");
}

#[test]
fn a_pair_model_reranks_and_predicts_pairs() {
    // three_labels as a pair model: its config says so (`wgbert_text_pairs`).
    let dir = scratch("pairs");
    let src = Path::new("tests/fixtures/hf_classifier/three_labels");
    for f in ["model.safetensors", "vocab.txt"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let mut config: Value = serde_json::from_slice(&std::fs::read(src.join("config.json")).unwrap()).unwrap();
    config["wgbert_text_pairs"] = json!(true);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let server = Server::start(&dir, &[]);
    let a = server.addr;

    let query = "the movie";
    let texts = ["was great", "awful", "meh and long", "fine"];
    let gpu = common::gpu();
    let c = Classifier::load(&gpu, &dir).unwrap();
    let pairs: Vec<(String, String)> = texts.iter().map(|t| (query.to_string(), t.to_string())).collect();
    let enc = Inputs::Pairs(&pairs).encode(&c.tokenizer, c.model.config.max_position_embeddings);
    let z = logits(&gpu, &c.model, &enc, c.tokenizer.pad_id(), 32, |_| {}).unwrap();
    let probs = probabilities(&z, c.model.num_labels);
    // A pair's rerank score is its last class's probability.
    let last = |i: usize| *probs[i].last().unwrap();

    let r = post(a, "/rerank", &json!({ "query": query, "texts": texts, "return_text": true }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let ranks = r.json();
    let ranks = ranks.as_array().unwrap();
    assert_eq!(ranks.len(), texts.len());
    for w in ranks.windows(2) {
        assert!(w[0]["score"].as_f64() >= w[1]["score"].as_f64(), "not sorted: {ranks:?}");
    }
    for rank in ranks {
        let i = rank["index"].as_u64().unwrap() as usize;
        assert_eq!(rank["text"], texts[i]);
        let d = (rank["score"].as_f64().unwrap() as f32 - last(i)).abs();
        assert!(d <= 1e-6, "text {i}: rerank score off by {d}");
    }
    // POST / reranks for a pair model; /predict takes [a, b] pairs and refuses single texts.
    assert_eq!(post(a, "/", &json!({ "query": query, "texts": texts })).json().as_array().unwrap().len(), 4);
    let p = post(a, "/predict", &json!({ "inputs": [query, texts[1]] })).json();
    let top = p[0]["score"].as_f64().unwrap() as f32;
    assert!((top - probs[1].iter().cloned().fold(0.0, f32::max)).abs() <= 1e-6, "{p}");
    post(a, "/predict", &json!({ "inputs": "a" })).assert_error(422, "Validation");
    post(a, "/rerank", &json!({ "query": query, "texts": [] })).assert_error(400, "Empty");
    let info = request(a, "GET", "/info", &[], b"").json();
    assert!(info["model_type"]["reranker"]["id2label"].is_object(), "{info}");
}

/// `serve --precision mixed` answers with f16 products: embeddings within f16 rounding of
/// `embed`'s f32 ones, not equal to them.
#[test]
fn a_mixed_precision_server_answers_within_f16_rounding() {
    if common::gpu_with_f16().is_none() {
        return;
    }
    let dir = scratch("mixed");
    let model = common::tiny_model(&dir);
    let server = Server::start(&model, &["--precision", "mixed"]);
    let r = post(server.addr, "/embed", &json!({ "inputs": GOOD }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let d = max_diff(&floats(&r.json()), &expected_embeddings(&model, &GOOD, 16));
    assert!(d > 0.0 && d <= 5e-3, "mixed precision's embeddings differ from f32's by {d}");
    let _ = std::fs::remove_dir_all(dir);
}
