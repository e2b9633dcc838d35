//! Replays every committed fuzz seed and crash reproducer (fuzz/seeds/<target>/,
//! fuzz/regressions/<target>/) through the same checks the fuzz targets run.

mod support;

use support::fuzz_checks as checks;

fn replay(target: &str, check: fn(&[u8])) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            check(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "no seeds for fuzz target {target}");
}

#[test]
fn record_inputs() {
    replay("record", checks::record);
}

#[test]
fn cbor_value_inputs() {
    replay("cbor_value", checks::cbor_value);
}

#[test]
fn json_inputs() {
    replay("json", checks::json);
}

#[test]
fn password_inputs() {
    replay("password", checks::password);
}

#[test]
fn ffi_inputs() {
    replay("ffi", checks::ffi);
}

#[test]
fn toto_pickle_inputs() {
    replay("toto_pickle", checks::toto_pickle);
}

#[test]
fn client_token_inputs() {
    replay("client_token", checks::client_token);
}
