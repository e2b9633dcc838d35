//! Generates the C header with cbindgen.
//!
//! The header is always written to `$OUT_DIR/toto_session.h`. It is copied to
//! `include/toto_session.h` (the committed copy) only when `TOTO_SESSION_WRITE_HEADER=1`
//! (`make header`): a build never rewrites tracked files on its own, so the staleness
//! test (`tests/header.rs`) can catch a header that was not regenerated, and
//! `cargo publish` verification (which forbids writes outside OUT_DIR) keeps working.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=TOTO_SESSION_WRITE_HEADER");
    // The shared library's soname follows the major version (libtoto_session.so.0).
    let major_for_soname = env::var("CARGO_PKG_VERSION_MAJOR").expect("major");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtoto_session.so.{major_for_soname}");
    }

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let version = env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION");
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("major");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("minor");
    let patch = env::var("CARGO_PKG_VERSION_PATCH").expect("patch");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    config.after_includes = Some(format!(
        "\n#define TOTO_SESSION_VERSION \"{version}\"\n\
         #define TOTO_SESSION_VERSION_MAJOR {major}\n\
         #define TOTO_SESSION_VERSION_MINOR {minor}\n\
         #define TOTO_SESSION_VERSION_PATCH {patch}\n"
    ));

    let generated = out_dir.join("toto_session.h");
    // Only src/ffi is read: the header holds exactly what the C ABI layer declares
    // (its constants are an allow-list by construction), never a core constant.
    cbindgen::Builder::new()
        .with_src(crate_dir.join("src").join("ffi").join("mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write_to_file(&generated);

    if env::var("TOTO_SESSION_WRITE_HEADER").as_deref() == Ok("1") {
        let committed = crate_dir.join("include").join("toto_session.h");
        let fresh = std::fs::read(&generated).expect("read generated header");
        if std::fs::read(&committed).ok().as_deref() != Some(fresh.as_slice()) {
            std::fs::write(&committed, fresh).expect("write include/toto_session.h");
        }
    }
}
