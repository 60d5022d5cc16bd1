use super::*;

const HEADER: &str = "seq,variant,phase,intended_ms,queue_delay_ms,ttft_ms,e2e_ms,prompt_tokens,\
output_tokens,token_source,finish_reason,outcome,error,attempts,rate_limited,prompt_token_source,\
cached_tokens,session,turn,model,stage,level,itl_mean_ms,itl_max_ms,ratelimit_requests,ratelimit_tokens,reasoning_tokens\n";

fn file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn rows_read_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.csv");
    let row = RequestRow {
        seq: 3,
        variant: "chat/max_tokens=64",
        phase: Phase::Measured,
        intended_ms: 12.5,
        queue_delay_ms: 0.25,
        ttft_ms: None,
        e2e_ms: 80.0,
        prompt_tokens: 10,
        output_tokens: 0,
        token_source: "usage",
        finish_reason: None,
        outcome: "http_500",
        error: Some("boom, \"quoted\"\nand a new line"),
        attempts: 2,
        rate_limited: 1,
        prompt_token_source: "usage",
        cached_tokens: Some(32),
        session: Some(7),
        turn: Some(2),
        model: "gpt-4o-mini",
        stage: Some(2),
        level: Some(1.5),
        itl_mean_ms: Some(10.25),
        itl_max_ms: Some(31.0),
        ratelimit_requests: Some(500),
        ratelimit_tokens: None,
        reasoning_tokens: Some(3),
        shard: None,
    };
    let mut w = RequestsWriter::create(&path, vec![]).unwrap();
    w.row(&row).unwrap();
    w.row(&RequestRow { seq: 4, ttft_ms: Some(7.0), ..row.clone() }).unwrap();
    w.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(HEADER), "the columns are the documented ones, no shard: {text}");
    assert_eq!(HEADER.trim_end().split(',').collect::<Vec<_>>(), COLUMNS);
    let mut r = RequestsReader::open(&path).unwrap();
    assert_eq!(r.next_row().unwrap().unwrap(), row);
    assert_eq!(r.next_row().unwrap().unwrap().ttft_ms, Some(7.0));
    assert!(r.next_row().unwrap().is_none());
    // With a shard column, as a merge writes it.
    let mut w = RequestsWriter::create(&path, vec![]).unwrap();
    w.row(&RequestRow { shard: Some(2), ..row.clone() }).unwrap();
    w.flush().unwrap();
    let mut r = RequestsReader::open(&path).unwrap();
    assert_eq!(r.positional, Some(COLUMNS.len()));
    assert_eq!(r.next_row().unwrap().unwrap(), RequestRow { shard: Some(2), ..row });
}

#[test]
fn files_of_before_the_prompt_token_source_are_read_by_position_too() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results-v0/requests.csv");
    let mut r = RequestsReader::open(&path).unwrap();
    assert_eq!(r.positional, Some(15));
    let row = r.next_row().unwrap().unwrap();
    assert_eq!(
        (row.variant, row.prompt_tokens, row.prompt_token_source, row.shard),
        ("chat/max_tokens=4", 20, "", None)
    );
    let mut n = 1;
    while r.next_row().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 24);
}

#[test]
fn columns_added_later_default_and_unknown_columns_are_ignored() {
    let f = file(
        "seq,variant,phase,intended_ms,queue_delay_ms,ttft_ms,e2e_ms,prompt_tokens,output_tokens,\
token_source,finish_reason,outcome,error,future\n0,a,warmup,1,0,,2,3,4,usage,stop,ok,,x\n",
    );
    let mut r = RequestsReader::open(f.path()).unwrap();
    let row = r.next_row().unwrap().unwrap();
    assert_eq!((row.attempts, row.rate_limited, row.shard), (1, 0, None));
    assert!(!row.measured() && row.ok());
}

#[test]
fn a_broken_row_is_named_by_file_line_and_column() {
    let f =
        file(&format!("{HEADER}0,a,measured,oops,0,10,1000,5,3,usage,stop,ok,,1,0,usage,,,,m,1,2,,,,,\n"));
    let mut r = RequestsReader::open(f.path()).unwrap();
    let err = r.next_row().expect_err("fails").to_string();
    assert!(err.contains("line 2") && err.contains(&f.path().display().to_string()), "{err}");
    assert!(err.contains("column `intended_ms`: expected a number, got \"oops\""), "{err}");
}

/// The csv crate's serde writer, which formatted rows before `row::format`:
/// the bytes a reader of any version expects.
fn csv_crate(rows: &[RequestRow<'_>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn rows_are_formatted_byte_for_byte_as_the_csv_crate_formats_them() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(17);
    // Texts that need quoting, and ones that nearly do.
    let texts = [
        "",
        "ok",
        "a,b",
        "say \"hi\"",
        "line\nbreak",
        "cr\rhere",
        "\"",
        ",",
        "sp ace",
        "é ü",
        "#x",
        "\ttab",
        " lead",
        "trail ",
        "nul\0",
        "eight bytes and more, then a comma",
        "eight bytes and more, then \"quotes\"",
    ];
    let mut floats = vec![0.0, 0.001, 0.01, 0.1, 1.0, 12.5, 256.0, 999.999, 1_000_000.0, 0.0005, 1.5e-7];
    floats.extend([f64::NAN, f64::INFINITY, -0.0, -1.25, 1e12, 1e15, 1e16, 123_456_789_012.345]);
    // Whole microseconds from zero to a year, as `ms` makes them, and any f64.
    for _ in 0..20_000 {
        let scale: u32 = rng.random_range(0..40);
        let micros = rng.random_range(0u64..31_536_000_000_000 >> scale);
        floats.push(ms(std::time::Duration::from_micros(micros)));
        floats.push(f64::from_bits(rng.random::<u64>()));
        floats.push(rng.random::<f64>() * 10f64.powi(rng.random_range(-8..14)));
        // Whole microseconds up to the integer path's bound (1e15 µs) and past it.
        floats.push(rng.random_range(1e9 as u64..2e15 as u64) as f64 / 1e3);
    }
    let pick = |rng: &mut rand::rngs::Xoshiro256PlusPlus| texts[rng.random_range(0..texts.len())];
    let mut rows = Vec::new();
    for (i, pair) in floats.chunks(2).enumerate() {
        let (a, b) = (pair[0], pair.get(1).copied().unwrap_or(0.5));
        let some = |rng: &mut rand::rngs::Xoshiro256PlusPlus| rng.random_bool(0.5);
        rows.push(RequestRow {
            seq: rng.random(),
            variant: pick(&mut rng),
            phase: if some(&mut rng) { Phase::Warmup } else { Phase::Measured },
            intended_ms: a,
            queue_delay_ms: b,
            ttft_ms: some(&mut rng).then_some(a),
            e2e_ms: b,
            prompt_tokens: rng.random(),
            output_tokens: rng.random_range(0..100_000),
            token_source: pick(&mut rng),
            finish_reason: some(&mut rng).then(|| pick(&mut rng)),
            outcome: pick(&mut rng),
            error: some(&mut rng).then(|| pick(&mut rng)),
            attempts: rng.random(),
            rate_limited: rng.random_range(0..3),
            prompt_token_source: pick(&mut rng),
            cached_tokens: some(&mut rng).then(|| rng.random()),
            session: some(&mut rng).then(|| rng.random()),
            turn: some(&mut rng).then(|| rng.random()),
            model: pick(&mut rng),
            stage: some(&mut rng).then(|| rng.random()),
            level: some(&mut rng).then_some(b),
            itl_mean_ms: some(&mut rng).then_some(a),
            itl_max_ms: some(&mut rng).then_some(b),
            ratelimit_requests: some(&mut rng).then(|| rng.random()),
            ratelimit_tokens: some(&mut rng).then(|| rng.random()),
            reasoning_tokens: some(&mut rng).then(|| rng.random()),
            shard: None,
        });
        if i % 1000 == 0 {
            // Every float of the chunk in every float column at least once.
            rows.push(RequestRow {
                ttft_ms: Some(b),
                level: Some(a),
                itl_max_ms: Some(a),
                ..rows[i].clone()
            });
        }
    }
    for shard in [None, Some(3)] {
        let rows: Vec<RequestRow<'_>> = rows.iter().map(|r| RequestRow { shard, ..r.clone() }).collect();
        let mut ours = Vec::new();
        row::header(shard.is_some(), &mut ours);
        for r in &rows {
            row::format(r, &mut ours);
        }
        let theirs = csv_crate(&rows);
        if ours != theirs {
            let (a, b) = (String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
            let at = a.lines().zip(b.lines()).position(|(x, y)| x != y);
            let line = |s: &str| at.and_then(|n| s.lines().nth(n)).unwrap_or("").to_owned();
            panic!("shard {shard:?}: line {at:?} differs:\n ours:  {}\n csv:   {}", line(&a), line(&b));
        }
    }
}
