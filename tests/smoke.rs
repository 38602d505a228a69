mod common;
use common::*;

#[test]
fn upload_download_roundtrip() {
    let g = gpu();
    let data: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
    let t = g.upload("x", &[10, 100], &data).unwrap();
    assert_eq!(t.to_vec().unwrap(), data);
}
