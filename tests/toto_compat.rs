//! Moving a live Python Toto 1.0.10 deployment: its Redis data, made by Toto's own code
//! (tests/toto_fixtures/fixtures.json, from make_fixtures.py), read by this library
//! through the Redis cache's Toto compatibility and the Redis account store; and the
//! other direction, Python Toto reading a session written here (when Python 2.7 is
//! available).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value as Json;
use support::redis_server::RedisServer;
use toto_session::backend::{
    toto_pickle, toto_session_key, RedisAccountStore, RedisAccountStoreOptions, RedisCache,
    RedisOptions, TotoCompat,
};
use toto_session::password::PasswordPolicy;
use toto_session::{AccountStore, Error, Manager, ManagerConfig, SessionCache, Value};

fn fixtures() -> Json {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/toto_fixtures/fixtures.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Writes every fixture key into Redis as Toto left it.
fn load_fixtures(con: &mut redis::Connection, fx: &Json) {
    for entry in fx["redis"].as_array().unwrap() {
        let key = entry["key"].as_str().unwrap();
        match entry["type"].as_str().unwrap() {
            "string" => {
                let value = B64.decode(entry["value_b64"].as_str().unwrap()).unwrap();
                let ttl = entry["setex_ttl"].as_i64().unwrap();
                let _: () = redis::cmd("SETEX")
                    .arg(key)
                    .arg(ttl)
                    .arg(value)
                    .query(con)
                    .unwrap();
            }
            "hash" => {
                for (field, v) in entry["fields_b64"].as_object().unwrap() {
                    let value = B64.decode(v.as_str().unwrap()).unwrap();
                    let _: i64 = redis::cmd("HSET")
                        .arg(key)
                        .arg(field)
                        .arg(value)
                        .query(con)
                        .unwrap();
                }
            }
            other => panic!("unknown fixture type {other}"),
        }
    }
}

fn options(toto: TotoCompat) -> RedisOptions {
    RedisOptions {
        connect_timeout: Duration::from_millis(500),
        io_timeout: Duration::from_millis(500),
        toto,
        ..RedisOptions::default()
    }
}

fn manager(server: &RedisServer, toto: TotoCompat) -> (Manager, Arc<RedisCache>) {
    let cache = Arc::new(RedisCache::new(&server.url(), options(toto)).unwrap());
    let store = Arc::new(
        RedisAccountStore::new(&server.url(), RedisAccountStoreOptions::default()).unwrap(),
    );
    let config = ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..ManagerConfig::default()
    };
    (Manager::new(cache.clone(), store, config).unwrap(), cache)
}

/// A state value as the fixture's JSON shows it.
fn json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(i64::try_from(*i).unwrap()),
        Value::Float(f) => Json::from(*f),
        Value::Text(t) => Json::from(t.as_str()),
        Value::Bytes(b) => panic!("unexpected bytes {b:?}"),
        Value::Array(items) => Json::Array(items.iter().map(json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_text().unwrap().to_owned(), json(v)))
                .collect(),
        ),
    }
}

fn exists(con: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query(con).unwrap()
}

#[test]
fn toto_sessions_are_read_converted_and_moved() {
    let fx = fixtures();
    let server = RedisServer::start();
    let mut con = server.connection();
    load_fixtures(&mut con, &fx);
    let (m, cache) = manager(
        &server,
        TotoCompat {
            read: true,
            ..TotoCompat::default()
        },
    );
    for s in fx["sessions"].as_array().unwrap() {
        let id = s["session_id"].as_str().unwrap();
        let session = m
            .retrieve_session(id)
            .unwrap()
            .expect("Toto's session is found");
        assert_eq!(session.user_id(), s["user_id"].as_str().unwrap());
        assert_eq!(session.key(), s["key"].as_str());
        assert!(session.expires() >= s["expires"].as_f64().unwrap());
        let state: serde_json::Map<String, Json> = session
            .state()
            .iter()
            .map(|(k, v)| (k.to_owned(), json(v)))
            .collect();
        assert_eq!(Json::Object(state), s["state"], "state of {id}");
        // Stored in this library's layout; Toto's key is gone (the default).
        assert!(exists(&mut con, &cache.session_key(id)));
        assert!(!exists(&mut con, &toto_session_key(id)));
        // Read again, now from the new layout.
        assert_eq!(
            m.retrieve_session(id).unwrap().unwrap().state(),
            session.state()
        );
        if let Some(req) = s["request"].as_object() {
            let text = |k: &str| req[k].as_str().unwrap().as_bytes();
            m.verify_request(id, text("hmac"), text("method"), text("uri"), text("body"))
                .expect("a request Toto's client signed verifies");
            assert_eq!(
                m.verify_request(id, text("hmac"), text("method"), text("uri"), b"x")
                    .unwrap_err(),
                Error::InvalidHmac
            );
        }
    }
    // Falsy values read back as themselves (Toto's own getter turned them into None).
    let alice = &fx["sessions"][0];
    let session = m
        .retrieve_session(alice["session_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(session.get("false"), Some(&Value::Bool(false)));
    assert_eq!(session.get("zero"), Some(&Value::Integer(0)));
    assert_eq!(session.get("long"), Some(&Value::Integer(1 << 40)));
}

#[test]
fn a_session_with_other_types_is_an_error_for_it_alone() {
    let fx = fixtures();
    let server = RedisServer::start();
    let mut con = server.connection();
    load_fixtures(&mut con, &fx);
    let (m, _) = manager(
        &server,
        TotoCompat {
            read: true,
            ..TotoCompat::default()
        },
    );
    let bad = fx["bad_sessions"][0]["session_id"].as_str().unwrap();
    let err = m.retrieve_session(bad).unwrap_err();
    assert!(
        matches!(&err, Error::Decode(msg) if msg.contains("global")),
        "{err:?}"
    );
    assert!(exists(&mut con, &toto_session_key(bad)), "left as it was");
    // Others still work, and unknown ids are simply not found.
    let good = fx["sessions"][1]["session_id"].as_str().unwrap();
    assert!(m.retrieve_session(good).unwrap().is_some());
    assert!(m
        .retrieve_session("NoSuchSession000000000")
        .unwrap()
        .is_none());
    // Without the option, Toto's sessions are not looked at.
    let (plain, _) = manager(&server, TotoCompat::default());
    let other = fx["sessions"][2]["session_id"].as_str().unwrap();
    assert!(plain.retrieve_session(other).unwrap().is_none());
}

#[test]
fn toto_accounts_log_in_and_their_passwords_are_upgraded() {
    let fx = fixtures();
    let server = RedisServer::start();
    let mut con = server.connection();
    load_fixtures(&mut con, &fx);
    let (m, _) = manager(&server, TotoCompat::default());
    for a in fx["accounts"].as_array().unwrap() {
        let user = a["user_id"].as_str().unwrap();
        let password = a["password"].as_str().unwrap();
        let key = format!("account:{user}");
        let before: String = redis::cmd("HGET")
            .arg(&key)
            .arg("password")
            .query(&mut con)
            .unwrap();
        assert!(before.starts_with("$p5k2$"));
        assert_eq!(
            m.login(user, "wrong").unwrap_err(),
            Error::InvalidCredentials
        );
        let session = m.login(&user.to_uppercase(), password).unwrap();
        assert_eq!(session.user_id(), user);
        let after: String = redis::cmd("HGET")
            .arg(&key)
            .arg("password")
            .query(&mut con)
            .unwrap();
        assert!(after.starts_with("$argon2id$"), "upgraded and saved back");
        m.login(user, password).expect("the upgraded hash verifies");
        // Toto's other fields are untouched and read as text.
        let mut account = m.account(user).unwrap();
        for (field, value) in a["fields"].as_object().unwrap() {
            assert_eq!(
                account.get(field).unwrap(),
                Some(&Value::Text(value.as_str().unwrap().to_owned()))
            );
        }
        assert_eq!(
            account.get("user_id").unwrap(),
            Some(&Value::Text(user.to_owned()))
        );
        assert_eq!(
            m.create_account(user, "x", &[]).unwrap_err(),
            Error::UserIdExists
        );
    }
}

#[test]
fn keep_toto_key_then_logout_removes_both() {
    let fx = fixtures();
    let server = RedisServer::start();
    let mut con = server.connection();
    load_fixtures(&mut con, &fx);
    let (m, cache) = manager(
        &server,
        TotoCompat {
            read: true,
            keep_toto_key: true,
            write: false,
        },
    );
    let alice = fx["sessions"][0]["session_id"].as_str().unwrap();
    let bob = fx["sessions"][1]["session_id"].as_str().unwrap();
    assert!(m.retrieve_session(alice).unwrap().is_some());
    assert!(m.retrieve_session(bob).unwrap().is_some());
    assert!(
        exists(&mut con, &toto_session_key(alice)),
        "left for Python"
    );
    assert!(exists(&mut con, &cache.session_key(alice)));
    // Logout must not be undone by importing Toto's copy again.
    m.remove_session(alice).unwrap();
    assert!(!exists(&mut con, &toto_session_key(alice)));
    assert!(m.retrieve_session(alice).unwrap().is_none());
    // "Log out everywhere" removes the Toto copies this cache left in place.
    assert_eq!(m.clear_sessions("bob").unwrap(), 1);
    assert!(!exists(&mut con, &toto_session_key(bob)));
    assert!(m.retrieve_session(bob).unwrap().is_none());
}

fn python2() -> Option<Command> {
    let ok = Command::new("python")
        .env("PYENV_VERSION", "2.7.18")
        .args(["-c", "import sys, pbkdf2; assert sys.version_info[0] == 2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: Python 2.7 with pbkdf2 (PYENV_VERSION=2.7.18 python) is not available");
        return None;
    }
    // Toto's own source, as tests/toto_fixtures/make_fixtures.py finds it.
    let source = std::env::var("TOTO_SOURCE").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/toto-1.0.10"
        )
        .to_owned()
    });
    if !std::path::Path::new(&source).join("session.py").is_file() {
        eprintln!("skipped: Toto 1.0.10's source is not at {source} (set TOTO_SOURCE)");
        return None;
    }
    let mut cmd = Command::new("python");
    cmd.env("PYENV_VERSION", "2.7.18");
    Some(cmd)
}

#[test]
fn sessions_written_here_are_read_by_python_toto() {
    let server = RedisServer::start();
    let mut con = server.connection();
    let (m, cache) = manager(
        &server,
        TotoCompat {
            read: true,
            keep_toto_key: false,
            write: true,
        },
    );
    m.create_account("carol", "pw", &[]).unwrap();
    let mut session = m.login("carol", "pw").unwrap();
    session.set("n", Value::Integer(0)).unwrap();
    session.set("s", Value::Text("héllo".into())).unwrap();
    session.set("b", Value::Bool(false)).unwrap();
    session
        .set(
            "m",
            Value::Map(vec![(
                Value::Text("xs".into()),
                Value::Array(vec![Value::Float(1.5), Value::Null]),
            )]),
        )
        .unwrap();
    m.save_session(&mut session).unwrap();
    let id = session.id().to_owned();
    let pickle: Vec<u8> = redis::cmd("GET")
        .arg(toto_session_key(&id))
        .query(&mut con)
        .unwrap();
    assert_eq!(toto_pickle::decode_session(&id, &pickle).unwrap(), {
        let mut s = session.clone();
        s.mark_clean();
        s
    });
    let ttl: i64 = redis::cmd("TTL")
        .arg(toto_session_key(&id))
        .query(&mut con)
        .unwrap();
    assert!(
        ttl > 364 * 86400,
        "Toto's copy expires with the session: {ttl}"
    );
    // Python Toto reads it through its own RedisSessionCache and retrieve_session.
    if let Some(mut py) = python2() {
        let mut child = py
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/toto_fixtures/read_session.py"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let request = serde_json::json!({
            "session_id": id,
            "value_b64": B64.encode(&pickle),
            "sign": "GET/x",
        });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let seen: Json = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(seen["session_id"], Json::from(id.as_str()));
        assert_eq!(seen["user_id"], Json::from("carol"));
        assert_eq!(seen["user_id_type"], Json::from("str"));
        assert_eq!(seen["key"], Json::from(session.key().unwrap()));
        assert_eq!(
            seen["hmac"],
            Json::from(session.hmac(b"GET/x").unwrap().as_str())
        );
        assert_eq!(
            seen["state"],
            serde_json::json!({
                "n": {"int": 0},
                "s": {"unicode": "héllo"},
                "b": {"bool": false},
                "m": {"dict": [[{"str": "xs"}, {"list": [{"float": 1.5}, {"NoneType": null}]}]]},
            })
        );
    }
    // Logout removes Toto's copy too; password change (log out everywhere) as well.
    let other = m.login("carol", "pw").unwrap();
    assert!(exists(&mut con, &toto_session_key(other.id())));
    m.remove_session(&id).unwrap();
    assert!(!exists(&mut con, &toto_session_key(&id)));
    m.change_password("carol", "pw", "pw2", None).unwrap();
    assert!(!exists(&mut con, &toto_session_key(other.id())));
    assert!(cache.load(other.id()).unwrap().is_none());
}

#[test]
fn redis_account_store_contract() {
    let server = RedisServer::start();
    let mut con = server.connection();
    let store = RedisAccountStore::new(
        &server.url(),
        RedisAccountStoreOptions {
            key_prefix: "acct:".into(),
            ..RedisAccountStoreOptions::default()
        },
    )
    .unwrap();
    assert_eq!(store.load("dave", None).unwrap(), None);
    assert_eq!(store.load("dave", Some(&[])).unwrap(), None);
    assert_eq!(store.load("dave", Some(&["a"])).unwrap(), None);
    assert_eq!(
        store
            .save("dave", &[("a", &Value::Integer(1))])
            .unwrap_err(),
        Error::InvalidCredentials
    );
    store.create("dave", &[]).unwrap();
    assert_eq!(store.load("dave", Some(&[])).unwrap(), Some(vec![]));
    assert_eq!(store.create("dave", &[]).unwrap_err(), Error::UserIdExists);
    let n = Value::Integer(42);
    let t = Value::Text("x@y".into());
    let list = Value::Array(vec![Value::Bool(true), Value::Null]);
    store
        .save("dave", &[("n", &n), ("email", &t), ("list", &list)])
        .unwrap();
    let field: String = redis::cmd("HGET")
        .arg("acct:dave")
        .arg("email")
        .query(&mut con)
        .unwrap();
    assert_eq!(field, "x@y", "text is stored as Toto stores it");
    assert_eq!(
        store
            .load("dave", Some(&["n", "missing", "email"]))
            .unwrap(),
        Some(vec![("n".into(), n.clone()), ("email".into(), t.clone())])
    );
    let mut all = store.load("dave", None).unwrap().unwrap();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        all,
        vec![
            ("email".into(), t),
            ("list".into(), list),
            ("n".into(), n),
            ("user_id".into(), Value::Text("dave".into())),
        ]
    );
    // Concurrent creates of one id: exactly one wins.
    let store = Arc::new(store);
    let wins: usize = (0..8)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || s.create("erin", &[]).is_ok())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| usize::from(h.join().unwrap()))
        .sum();
    assert_eq!(wins, 1);
    store.remove("dave").unwrap();
    assert_eq!(store.remove("dave").unwrap_err(), Error::InvalidCredentials);
    assert_eq!(store.load("dave", None).unwrap(), None);
    // Redis down is "unavailable", not a crash.
    drop(server);
    assert!(matches!(
        store.load("erin", None),
        Err(Error::Unavailable(_))
    ));
}

#[test]
fn damaged_toto_pickles_are_errors_never_panics() {
    // Every fixture pickle truncated at every length and with every byte replaced by a
    // few others: decoding answers Ok or Err, and never panics or runs away.
    let fx = fixtures();
    for entry in fx["redis"].as_array().unwrap() {
        if entry["type"] != "string" {
            continue;
        }
        let id = entry["key"]
            .as_str()
            .unwrap()
            .trim_start_matches("session:");
        let pickle = B64.decode(entry["value_b64"].as_str().unwrap()).unwrap();
        for len in 0..pickle.len() {
            assert!(toto_pickle::decode_session(id, &pickle[..len]).is_err());
        }
        for at in 0..pickle.len() {
            for b in [0u8, b'(', b'.', b'c', b'R', b'g', b'h', 0xff] {
                let mut p = pickle.clone();
                p[at] = b;
                let _ = toto_pickle::decode_session(id, &p);
                let _ = toto_pickle::decode_state(&p);
            }
        }
    }
}
