// ---- a row per subgroup (appended to layernorm.wgsl where the adapter has subgroups) ----
// The lanes of one subgroup stride over a row's columns and the row's sums come from
// subgroupAdd: no workgroup memory and no barrier, where ln_fwd's workgroup per row reduces
// through workgroup memory with a barrier per level. A workgroup of 64 holds 64 / subgroup_size
// rows (a subgroup is consecutive invocations); the host dispatches workgroups for the largest
// subgroup size the adapter may use, and rows past the end compute nothing they store. Control
// flow stays uniform up to every subgroup operation (WGSL's subgroup_uniformity rule): loops
// step by the subgroup size and a lane past the row's end adds nothing.
// (naga takes the subgroup built-ins without `enable subgroups;`, which it refuses; `wgbert
// shaders` writes the module with it for Tint.)

// `normalize_row` for a subgroup: its row (the input in y) sums to `total`.
fn normalize_row_sg(t: Lane, r: Row, total: f32) {
    let mean = total / f32(p.cols);
    var v = 0.0;
    for (var c0 = 0u; c0 < p.cols; c0 += t.size) {
        let c = c0 + t.lane;
        if r.valid && c < p.cols { let d = y[r.base + c] - mean; v += d * d; }
    }
    let rstd = inverseSqrt(subgroupAdd(v) / f32(p.cols) + p.eps);
    for (var c0 = 0u; c0 < p.cols; c0 += t.size) {
        let c = c0 + t.lane;
        if r.valid && c < p.cols { y[r.base + c] = (y[r.base + c] - mean) * rstd * gamma[c] + beta[c]; }
    }
    if r.valid && t.lane == 0u {
        mean_out[r.row] = mean;
        rstd_out[r.row] = rstd;
    }
}

@compute @workgroup_size(64)
fn ln_fwd_sg(t: Lane) {
    let r = row_of_lane(t);
    var s = 0.0;
    for (var c0 = 0u; c0 < p.cols; c0 += t.size) {
        let c = c0 + t.lane;
        if r.valid && c < p.cols { let v = x[r.base + c]; y[r.base + c] = v; s += v; }
    }
    normalize_row_sg(t, r, subgroupAdd(s));
}

@compute @workgroup_size(64)
fn ln_fwd_add_sg(t: Lane) {
    let r = row_of_lane(t);
    var s = 0.0;
    for (var c0 = 0u; c0 < p.cols; c0 += t.size) {
        let c = c0 + t.lane;
        if r.valid && c < p.cols {
            let v = dropped(x[r.base + c], r.base + c) + residual[r.base + c];
            y[r.base + c] = v;
            if SAVE_SUM { sum_out[r.base + c] = v; }
            s += v;
        }
    }
    normalize_row_sg(t, r, subgroupAdd(s));
}

@compute @workgroup_size(64)
fn ln_bwd_input_sg(t: Lane) {
    let r = row_of_lane(t);
    var mean = 0.0;
    var rstd = 0.0;
    if r.valid {
        mean = bmean[r.row];
        rstd = brstd[r.row];
    }
    var sg = 0.0;
    var sgx = 0.0;
    for (var c0 = 0u; c0 < p.cols; c0 += t.size) {
        let c = c0 + t.lane;
        if r.valid && c < p.cols {
            let g = dy[r.base + c] * bgamma[c];
            sg += g;
            sgx += g * (bx[r.base + c] - mean) * rstd;
        }
    }
    let mg = subgroupAdd(sg) / f32(p.cols);
    let mgx = subgroupAdd(sgx) / f32(p.cols);
    for (var c0 = 0u; c0 < p.cols; c0 += t.size) {
        let c = c0 + t.lane;
        if r.valid && c < p.cols {
            let xhat = (bx[r.base + c] - mean) * rstd;
            let g = dy[r.base + c] * bgamma[c];
            let d = rstd * (g - mg - xhat * mgx);
            dx[r.base + c] = d;
            if DROPOUT { dx_dropped[r.base + c] = dropped(d, r.base + c); }
        }
    }
}
