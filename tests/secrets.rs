//! No secret (HMAC key, password, password hash, Redis password) appears in Debug or
//! Display output, or in the error a failed call returns.

use std::sync::Arc;

use toto_session::backend::{RedisCache, RedisOptions};
use toto_session::password::{PasswordPolicy, Passwords};
use toto_session::{
    AccountStore, Error, Manager, ManagerConfig, MemoryAccountStore, MemoryCache, Session, Signer,
    Value,
};

const KEY: &str = "KEY-s3cr3t-4daviHzE";
const PASSWORD: &str = "pw-s3cr3t-hunter2";

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows a secret: {text}");
    }
}

fn fast() -> ManagerConfig {
    ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..ManagerConfig::default()
    }
}

#[test]
fn debug_output_hides_keys_passwords_and_hashes() {
    let mut session = Session::new("u", 1e12).unwrap();
    session.set_key(Some(KEY)).unwrap();
    assert_clean("Session", &format!("{session:?}"), &[KEY]);
    assert_clean(
        "Signer",
        &format!("{:?}", Signer::new(KEY.as_bytes()).unwrap()),
        &[KEY],
    );

    let passwords = Passwords::new(fast().passwords).unwrap();
    let hash = passwords.hash(PASSWORD).unwrap();
    assert_clean("Passwords", &format!("{passwords:?}"), &[PASSWORD, &hash]);

    let store = Arc::new(MemoryAccountStore::new());
    let manager = Manager::new(Arc::new(MemoryCache::new()), store.clone(), fast()).unwrap();
    manager.create_account("alice", PASSWORD, &[]).unwrap();
    let stored_hash = store.load("alice", Some(&["password"])).unwrap().unwrap()[0]
        .1
        .clone();
    let stored_hash = stored_hash.as_text().unwrap();
    assert_clean("Manager", &format!("{manager:?}"), &[PASSWORD, stored_hash]);
    assert_clean(
        "MemoryAccountStore",
        &format!("{store:?}"),
        &[PASSWORD, stored_hash],
    );
    let mut account = manager.account("alice").unwrap();
    account.load_all().unwrap();
    assert_clean("Account", &format!("{account:?}"), &[PASSWORD, stored_hash]);

    let redis = RedisCache::new(
        "redis://:redis-s3cr3t@127.0.0.1:1/",
        RedisOptions::default(),
    )
    .unwrap();
    assert_clean("RedisCache", &format!("{redis:?}"), &["redis-s3cr3t"]);
}

#[test]
fn errors_from_failed_calls_carry_no_secret() {
    let manager = Manager::new(
        Arc::new(MemoryCache::new()),
        Arc::new(MemoryAccountStore::new()),
        fast(),
    )
    .unwrap();
    manager.create_account("bob", PASSWORD, &[]).unwrap();
    let wrong = "guess-s3cr3t-1";
    let err = manager.login("bob", wrong).unwrap_err();
    assert_eq!(err, Error::InvalidCredentials);
    assert_clean("login error", &err.to_string(), &[PASSWORD, wrong]);
    let err = manager
        .change_password("bob", wrong, "new-s3cr3t", None)
        .unwrap_err();
    assert_clean(
        "change_password error",
        &err.to_string(),
        &[PASSWORD, wrong, "new-s3cr3t"],
    );

    let mut session = Session::new("bob", 1e12).unwrap();
    session.set_key(Some(KEY)).unwrap();
    let err = session.verify(b"forged-mac", b"message").unwrap_err();
    assert_clean("verify error", &err.to_string(), &[KEY]);

    // A damaged record whose text fields sit in the wrong places must not be quoted.
    let mut damaged = std::collections::BTreeMap::new();
    damaged.insert("v", Value::Integer(1));
    damaged.insert("exp", Value::from(KEY));
    let bytes = toto_session::internals::codec::to_vec(&damaged).unwrap();
    let err = Session::import(&bytes).unwrap_err();
    assert_clean("import error", &err.to_string(), &[KEY]);
}
