//! curves.png: loss and accuracy per epoch, training against validation, in two panels like the
//! seed tutorial's figure. Drawn with plotters into an RGB buffer; the PNG encoding (a few chunks
//! around zlib data) is done here so no image crate is needed.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::History;

const FONT: &[u8] = include_bytes!("font/DejaVuSans.ttf");
/// Size of curves.png in pixels.
pub const W: u32 = 1000;
pub const H: u32 = 420;

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// A PNG of an 8-bit RGB buffer.
pub fn encode_png(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    use std::io::Write;
    let mut raw = Vec::with_capacity(rgb.len() + h as usize);
    for row in rgb.chunks(3 * w as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("writing to a Vec");
    let idat = z.finish().expect("writing to a Vec");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    png
}

fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    train: &[(f64, f64)],
    val: &[(f64, f64)],
    epochs: usize,
) -> Result<()> {
    let all: Vec<f64> = train.iter().chain(val).map(|p| p.1).collect();
    let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.5f64..(epochs as f64 + 0.5), (lo - pad)..(hi + pad))
        .map_err(|e| anyhow!("drawing {title}: {e}"))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(epochs.min(10))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(LineSeries::new(train.iter().copied(), BLUE.stroke_width(2)))
        .map_err(|e| anyhow!("{e}"))?
        .label("training")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    if !val.is_empty() {
        chart
            .draw_series(LineSeries::new(val.iter().copied(), RED.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label("validation")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Writes curves.png (atomically): loss on the left, accuracy on the right.
pub fn save_curves(history: &History, path: &Path) -> Result<()> {
    // Registering twice is harmless; the font is compiled in.
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| anyhow!("the built-in font is invalid"))?;
    let rows = &history.epochs;
    let epochs = rows.len().max(1);
    let series = |f: &dyn Fn(&super::EpochRow) -> Option<f64>| {
        rows.iter().filter_map(|r| f(r).map(|v| (r.epoch as f64, v))).collect::<Vec<_>>()
    };
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let (left, right) = root.split_horizontally(W / 2);
        panel(&left, "loss", &series(&|r| Some(r.loss)), &series(&|r| r.val_loss), epochs)?;
        panel(&right, "accuracy", &series(&|r| Some(r.accuracy)), &series(&|r| r.val_accuracy), epochs)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    crate::fsio::write_atomic(path, &encode_png(&buf, W, H))?;
    Ok(())
}
