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
