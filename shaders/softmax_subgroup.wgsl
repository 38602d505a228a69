// ---- a row per subgroup (appended to softmax.wgsl where the adapter has subgroups) ----
// softmax_fwd and softmax_bwd give each invocation a whole row, so neighbouring invocations
// read addresses a row apart. Here the lanes of one subgroup share a row, read neighbouring
// keys, and combine their maxima and sums with subgroupMax and subgroupAdd. A workgroup of 64
// holds 64 / subgroup_size rows (a subgroup is consecutive invocations); the host dispatches
// workgroups for the largest subgroup size the adapter may use, and rows past the end store
// nothing. Control flow stays uniform up to every subgroup operation (loops step by the
// subgroup size; a lane past the row's end contributes the identity).
// (naga takes the subgroup built-ins without `enable subgroups;`; `wgbert shaders` adds it for Tint.)

@compute @workgroup_size(64)
fn softmax_fwd_sg(t: Lane) {
    let r = row_of_lane(t);
    let mbase = (r.row / p.rows_per_batch) * p.cols;
    var mx = F32_MIN;
    for (var j0 = 0u; j0 < p.cols; j0 += t.size) {
        let j = j0 + t.lane;
        if r.valid && j < p.cols {
            let v = s[r.base + j] * p.scale + (1.0 - mask[mbase + j]) * F32_MIN;
            s[r.base + j] = v;
            mx = max(mx, v);
        }
    }
    mx = subgroupMax(mx);
    var sum = 0.0;
    for (var j0 = 0u; j0 < p.cols; j0 += t.size) {
        let j = j0 + t.lane;
        if r.valid && j < p.cols {
            let e = exp(s[r.base + j] - mx);
            s[r.base + j] = e;
            sum += e;
        }
    }
    let inv = 1.0 / subgroupAdd(sum);
    for (var j0 = 0u; j0 < p.cols; j0 += t.size) {
        let j = j0 + t.lane;
        if r.valid && j < p.cols {
            let v = s[r.base + j] * inv;
            s[r.base + j] = v;
            if DROPOUT { s_dropped[r.base + j] = dropped(v, r.base + j); }
        }
    }
}

@compute @workgroup_size(64)
fn softmax_bwd_sg(t: Lane) {
    let r = row_of_lane(t);
    var dot = 0.0;
    for (var j0 = 0u; j0 < p.cols; j0 += t.size) {
        let j = j0 + t.lane;
        if r.valid && j < p.cols { dot += prob[r.base + j] * dropped(dp[r.base + j], r.base + j); }
    }
    dot = subgroupAdd(dot);
    for (var j0 = 0u; j0 < p.cols; j0 += t.size) {
        let j = j0 + t.lane;
        if r.valid && j < p.cols {
            dp[r.base + j] = prob[r.base + j] * (dropped(dp[r.base + j], r.base + j) - dot) * p.scale;
        }
    }
}
