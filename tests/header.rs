//! The committed header is exactly what cbindgen generates now, and versions agree.

const COMMITTED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/include/toto_session.h"
));
const FRESH: &str = include_str!(concat!(env!("OUT_DIR"), "/toto_session.h"));

#[test]
fn committed_header_is_not_stale() {
    assert!(
        COMMITTED == FRESH,
        "include/toto_session.h differs from the generated header: run `make header` and commit it"
    );
}

#[test]
fn header_version_macros_match_cargo_toml() {
    let version = env!("CARGO_PKG_VERSION");
    assert!(COMMITTED.contains(&format!("#define TOTO_SESSION_VERSION \"{version}\"")));
    for (name, part) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(
            COMMITTED.contains(&format!("#define TOTO_SESSION_VERSION_{name} {part}\n")),
            "{name}"
        );
    }
    assert_eq!(toto_session::VERSION, version);
    // SAFETY: toto_version returns a static NUL-terminated string.
    let reported = unsafe { std::ffi::CStr::from_ptr(toto_session::ffi::version::toto_version()) };
    assert_eq!(reported.to_str().unwrap(), version);
}

#[test]
fn header_has_no_unprefixed_names() {
    for line in COMMITTED.lines() {
        if let Some(rest) = line.strip_prefix("#define ") {
            assert!(rest.starts_with("TOTO_"), "unprefixed macro: {line}");
        }
        if let Some(rest) = line.strip_prefix("typedef struct ") {
            assert!(rest.starts_with("toto_"), "unprefixed type: {line}");
        }
    }
}
