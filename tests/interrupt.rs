//! Faults during training, on the tiny model: Ctrl-C (SIGINT) saves and exits cleanly; SIGKILL
//! at any moment leaves the last complete checkpoint loadable; resuming after either ends on
//! the same parameters as an uninterrupted run; a non-finite loss stops the run without writing
//! over the last good checkpoint; memory stays flat over 1,000 steps.

mod common;
use common::{gpu, temp, tiny_model, WORDS};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use wgbert::checkpoint::load_tensors;
use wgbert::train::job::{run_job, TrainJob};
use wgbert::train::{Event, Outcome};

/// `n` reviews of exactly 12 word pieces each (so every batch has the same shape), alternating
/// positive (words 0..5) and negative (5..10).
fn fixed_length_data(dir: &Path, n: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..n {
        let base = if i % 2 == 0 { 0 } else { 5 };
        let w = |k: usize| WORDS[base + (i * 7 + k * 3) % 5];
        let label = if i % 2 == 0 { "pos" } else { "neg" };
        lines += &format!(
            "{{\"text\": \"the movie was very {} and {} {} the film was {} {}\", \"label\": \"{label}\"}}\n",
            w(0),
            w(1),
            w(2),
            w(3),
            w(4)
        );
    }
    let p = dir.join(format!("fixed-{n}.jsonl"));
    std::fs::write(&p, lines).unwrap();
    p
}

/// `wgbert train` on the tiny model: 40 reviews, batch 4 (8 steps an epoch), a checkpoint
/// every step.
fn train_args(model: &Path, data: &Path, out: &Path, epochs: usize) -> Vec<String> {
    let mut a: Vec<String> = ["train", "--model"].iter().map(|s| s.to_string()).collect();
    a.push(model.display().to_string());
    a.extend(["--data".into(), data.display().to_string(), "--out".into(), out.display().to_string()]);
    for (k, v) in [("--epochs", epochs.to_string()), ("--batch-size", "4".into()), ("--max-len", "16".into())] {
        a.extend([k.to_string(), v]);
    }
    a.extend(["--lr", "1e-3", "--checkpoint-every", "1"].iter().map(|s| s.to_string()));
    a
}

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(args)
        // Runs are compared bit for bit across processes: fixed kernel choices, so that tuning
        // in this binary's parallel tests cannot pick another variant (other rounding) midway.
        .env("WGBERT_TUNE", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wgbert")
}

fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
}

/// The step the run's latest checkpoint holds, once it has one.
fn latest_step(run: &Path) -> Option<u64> {
    let name = std::fs::read_to_string(run.join("checkpoints/latest")).ok()?;
    name.trim().strip_prefix("step-")?.parse().ok()
}

/// Waits until the run has a checkpoint at `step` or later (the child is still running).
fn wait_for_step(child: &mut Child, run: &Path, step: u64) {
    let t0 = Instant::now();
    while latest_step(run).is_none_or(|s| s < step) {
        assert!(child.try_wait().unwrap().is_none(), "wgbert exited before step {step}");
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint at step {step} after 2 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Everything the latest checkpoint holds loads: parameters, optimizer moments, progress.
fn assert_latest_loadable(run: &Path) -> u64 {
    let step = latest_step(run).expect("a latest checkpoint");
    let dir = run.join("checkpoints").join(format!("step-{step}"));
    let params = load_tensors(&dir.join("params.safetensors")).unwrap_or_else(|e| panic!("step {step}: {e:#}")).0;
    assert!(params.values().all(|t| t.data.iter().all(|v| v.is_finite())));
    let opt = load_tensors(&dir.join("optimizer.safetensors")).unwrap_or_else(|e| panic!("step {step}: {e:#}")).0;
    assert_eq!(opt.len(), 2 * params.len(), "step {step}: m and v for every parameter");
    let progress: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("progress.json")).unwrap()).expect("progress.json parses");
    assert_eq!(progress["position"]["global_step"], step, "progress.json is of the step `latest` names");
    step
}

fn assert_same_model(a: &Path, b: &Path) {
    let a = load_tensors(&a.join("model/model.safetensors")).unwrap().0;
    let b = load_tensors(&b.join("model/model.safetensors")).unwrap().0;
    assert_eq!(a.len(), b.len());
    for (name, t) in &a {
        assert_eq!(t.data, b[name].data, "{name} differs from the uninterrupted run's");
    }
}

fn resume(run: &Path) -> Child {
    spawn(&["train".to_string(), "--resume".to_string(), run.display().to_string()])
}

/// (folder, model, data, the finished run) of 3 epochs on the tiny model, to compare with.
fn uninterrupted_run(tag: &str) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let dir = temp(tag);
    let model = tiny_model(&dir);
    let data = fixed_length_data(&dir, 40);
    let straight = dir.join("straight");
    let (ok, text) = finish(spawn(&train_args(&model, &data, &straight, 3)));
    assert!(ok, "{text}");
    (dir, model, data, straight)
}

#[cfg(unix)]
fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill {sig} failed");
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_and_the_resumed_run_ends_where_an_uninterrupted_one_does() {
    let (dir, model, data, straight) = uninterrupted_run("interrupt-sigint");

    let run = dir.join("interrupted");
    let mut child = spawn(&train_args(&model, &data, &run, 3));
    wait_for_step(&mut child, &run, 3);
    signal(&child, "-INT");
    let (ok, text) = finish(child);
    assert!(ok, "Ctrl-C is a clean exit: {text}");
    assert!(text.contains("interrupted: saving a checkpoint"), "{text}");
    let saved = assert_latest_loadable(&run);
    assert!(text.contains(&format!("saved at step {saved}; continue with: wgbert train --resume")), "{text}");
    assert!(saved < 24, "the run was stopped before its end (step {saved} of 24)");
    assert!(!run.join("model").exists(), "an interrupted run exports nothing");

    let (ok, text) = finish(resume(&run));
    assert!(ok && text.contains(&format!("resuming {}", run.display())), "{text}");
    assert_same_model(&straight, &run);
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn sigkill_at_any_moment_leaves_a_loadable_checkpoint_and_resumes_to_the_same_end() {
    let (dir, model, data, straight) = uninterrupted_run("interrupt-sigkill");

    // Kill it five times at moments drawn from a seeded generator, each after one more
    // checkpoint, so that kills land during steps and during saves; resume after each.
    let run = dir.join("killed");
    let mut rng = common::Rng::new(7);
    let mut child = spawn(&train_args(&model, &data, &run, 3));
    let mut last = 0;
    for kill in 0..5 {
        wait_for_step(&mut child, &run, last + 1);
        std::thread::sleep(Duration::from_micros(rng.below(40_000) as u64));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let step = assert_latest_loadable(&run);
        assert!(step >= last + 1 && step < 24, "kill {kill}: latest is step {step}");
        last = step;
        child = resume(&run);
    }
    let (ok, text) = finish(child);
    assert!(ok, "{text}");
    assert_same_model(&straight, &run);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Bytes of every file of the run's latest checkpoint.
fn latest_files(run: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = run.join("checkpoints").join(format!("step-{}", latest_step(run).unwrap()));
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

/// A library-level job on the tiny model: `n` fixed-length reviews, max length 16.
fn tiny_job(tag: &str, n: usize, epochs: usize, batch_size: usize) -> (PathBuf, TrainJob) {
    let dir = temp(tag);
    let mut job = TrainJob::new(tiny_model(&dir), fixed_length_data(&dir, n));
    (job.options.epochs, job.options.batch_size, job.options.max_len) = (epochs, batch_size, 16);
    (dir, job)
}

#[test]
fn a_diverging_run_stops_and_never_writes_over_the_last_good_checkpoint() {
    let g = gpu();
    let (dir, mut job) = tiny_job("interrupt-nan", 40, 2, 4);
    job.options.warmup_fraction = 0.0;
    // One good epoch (8 steps), stopped at its end as Ctrl-C would.
    let run = dir.join("run");
    let stop = AtomicBool::new(false);
    let on_event = |e: Event| {
        if let Event::EpochEnd(_) = e {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let r = run_job(&g, &job, &run, &stop, on_event, |_| {}).unwrap();
    assert_eq!(r.outcome, Outcome::Interrupted { step: 8 });
    let good = latest_files(&run);

    // Resumed at a learning rate of 1e30: the first step throws the weights to ±1e30, weight
    // decay then to infinity, and a forward pass on them gives a NaN loss.
    job.options.lr = 1e30;
    let err = format!("{:#}", run_job(&g, &job, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap_err());
    assert!(err.contains("the loss became NaN at step 11 (epoch 2, batch 3)"), "{err}");
    assert!(err.contains("the last saved checkpoint is kept"), "{err}");
    assert_eq!(latest_step(&run), Some(8));
    assert!(latest_files(&run) == good, "the checkpoint of step 8 is untouched");

    // Saving every step, the diverged weights reach a save before a NaN loss does: the save
    // refuses them and the run stops on the spot.
    job.options.checkpoint_every = Some(1);
    let err = format!("{:#}", run_job(&g, &job, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap_err());
    assert!(err.contains("saving step 10: parameter") && err.contains("the run diverged"), "{err}");
    assert_eq!(latest_step(&run), Some(9), "step 9 (weights ±1e30, finite) was the last to save");
    assert_latest_loadable(&run);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_after_1000_steps_equals_memory_after_10() {
    let g = gpu();
    let (dir, mut job) = tiny_job("interrupt-memory", 8_100, 1, 8);
    job.validation_fraction = 0.01; // 8,019 training reviews: 1,003 steps of 8
    let mut at = Vec::new();
    let r = run_job(
        &g,
        &job,
        &dir.join("run"),
        &AtomicBool::new(false),
        |e| {
            if let Event::Step { step, .. } = e {
                if step == 10 || step == 1000 {
                    let rss = wgbert::bench::train::host_rss_mib().unwrap_or(0.0);
                    at.push((step, g.memory(), rss));
                }
            }
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Finished);
    let [(_, m10, rss10), (_, m1000, rss1000)] = at[..] else { panic!("{at:?}") };
    eprintln!(
        "after 10 steps:   GPU live {} B, cached {} B, buffers {}, host RSS {rss10:.1} MiB",
        m10.live, m10.cached, m10.buffers_created
    );
    eprintln!(
        "after 1000 steps: GPU live {} B, cached {} B, buffers {}, host RSS {rss1000:.1} MiB",
        m1000.live, m1000.cached, m1000.buffers_created
    );
    assert_eq!((m1000.live, m1000.cached, m1000.buffers_created), (m10.live, m10.cached, m10.buffers_created));
    // The host side holds the per-step loss history (16 bytes a step) and allocator slack.
    assert!(rss1000 - rss10 < 8.0, "host RSS grew from {rss10:.1} to {rss1000:.1} MiB");
    std::fs::remove_dir_all(dir).unwrap();
}
