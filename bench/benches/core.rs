//! The Rust core's benchmarks and the Rust peer (tower-sessions' MemoryStore), with a
//! small median harness: every benchmark runs in timed batches of ~2 ms and reports the
//! median (and 10th/90th percentile) of the batches' ns/op.
//!
//! Output: one JSON object on stdout (`{"results": [...], "info": {...}}`), progress on
//! stderr. Run by bench/run.py (`make bench`); `TOTO_BENCH_QUICK=1` shortens it;
//! `TOTO_BENCH_BUDGET_MS=M` sets the sampling time per figure (default 300, quick 60).
//!
//! Inputs shared with bench/c/bench.c and bench/python/toto_path.py: the 5-entry state,
//! the HMAC key, the message pattern (`message(len)`), the request (POST, URI, 1 KiB
//! body) and the session id of the single-session benchmarks.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use toto_session::backend::{ClientCache, ClientKey, CLIENT_KEY_LEN};
use toto_session::{
    Account, AccountStore, Manager, ManagerConfig, MemoryAccountStore, MemoryCache, Session,
    SessionCache, StoreMode, Value,
};
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionStore};

const KEY: &str = "k3yK3yk3yK3yk3yK3yk3yA";
const SESSION_ID: &str = "IpHYzcMQQR5-wnN4pmHJNQ";
const USER: &str = "alice";
const METHOD: &str = "POST";
const URI: &str = "/api/v1/cart?item=42";

/// `len` bytes of "abc...z" repeated.
fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// How many sessions the "in turn" saves go round.
const TURNS: usize = 8;

/// The 5-entry state every benchmark's session carries.
fn state() -> Vec<(&'static str, Value)> {
    vec![
        ("user_name", Value::from("alice@example.com")),
        ("cart_items", Value::from(3i64)),
        ("is_admin", Value::from(false)),
        ("balance", Value::from(12.5f64)),
        ("last_page", Value::from("/catalog/shoes?page=2")),
    ]
}

fn state_json() -> HashMap<String, serde_json::Value> {
    HashMap::from([
        ("user_name".into(), "alice@example.com".into()),
        ("cart_items".into(), 3.into()),
        ("is_admin".into(), false.into()),
        ("balance".into(), 12.5.into()),
        ("last_page".into(), "/catalog/shoes?page=2".into()),
    ])
}

fn session(id: &str, user: &str, expires: f64) -> Session {
    let mut s = Session::with_id(id, user, expires).unwrap();
    s.set_key(Some(KEY)).unwrap();
    for (k, v) in state() {
        s.set(k, v).unwrap();
    }
    s
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// xorshift64*: a fixed, cheap sequence for picking sessions at random.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A random permutation of 0..n.
    fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
        p
    }
}

// ---- harness -------------------------------------------------------------------

struct Harness {
    budget: Duration,
    out: Vec<String>,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl Harness {
    /// Measures `batch(n)`, which runs the operation `n` times and returns the time it
    /// took. Batch size is calibrated to ~2 ms; samples are taken for ~0.3 s (at least
    /// 15, at most 101 batches).
    fn measure(&mut self, name: &str, mut batch: impl FnMut(u64) -> Duration) {
        let target = Duration::from_millis(2);
        let budget = self.budget;
        let mut n: u64 = 1;
        loop {
            let t = batch(n);
            if t >= target / 4 || n >= 1 << 32 {
                let scale = target.as_secs_f64() / t.as_secs_f64().max(1e-9);
                n = ((n as f64 * scale).ceil() as u64).max(1);
                break;
            }
            n *= 2;
        }
        // Warm-up, then re-scale on a warm batch (a cold first batch misleads).
        let t = batch(n);
        n = ((n as f64 * target.as_secs_f64() / t.as_secs_f64().max(1e-9)).ceil() as u64).max(1);
        let start = Instant::now();
        let mut samples = Vec::with_capacity(101);
        while samples.len() < 101 && (samples.len() < 15 || start.elapsed() < budget) {
            samples.push(batch(n).as_nanos() as f64 / n as f64);
        }
        samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = percentile(&samples, 0.5);
        eprintln!("  {name:<40} {median:>12.1} ns/op");
        self.out.push(format!(
            "{{\"name\": \"{name}\", \"ns\": {median:.2}, \"p10\": {:.2}, \"p90\": {:.2}, \"batch\": {n}, \"samples\": {}}}",
            percentile(&samples, 0.1),
            percentile(&samples, 0.9),
            samples.len()
        ));
    }

    /// Measures one call of `op` per iteration.
    fn op<R>(&mut self, name: &str, mut op: impl FnMut() -> R) {
        self.measure(name, |n| {
            let t = Instant::now();
            for _ in 0..n {
                black_box(op());
            }
            t.elapsed()
        });
    }
}

// ---- benchmarks ------------------------------------------------------------------

fn core(h: &mut Harness) {
    h.op("id_generate", toto_session::id::generate_id);

    let s = session(SESSION_ID, USER, now() + 3600.0);
    for (label, len) in [("64", 64), ("1k", 1024), ("64k", 65536)] {
        let msg = message(len);
        let mac = s.hmac(&msg).unwrap();
        h.op(&format!("hmac_{label}"), || {
            s.hmac(black_box(&msg)).unwrap()
        });
        h.op(&format!("verify_{label}"), || {
            s.verify(black_box(mac.as_bytes()), black_box(&msg))
                .unwrap()
        });
    }
    {
        let msg = message(1024);
        let mac = s.hmac(&msg).unwrap();
        h.op("verify_1k_oneshot_key", || {
            toto_session::sign::verify(KEY.as_bytes(), black_box(mac.as_bytes()), &msg).unwrap()
        });
    }

    let record = s.export().unwrap();
    h.op("record_encode", || s.export().unwrap());
    h.op("record_decode", || {
        Session::import(black_box(&record)).unwrap()
    });

    let mut s2 = s.clone();
    h.op("get_i64", || {
        s2.get(black_box("cart_items")).unwrap().as_i64().unwrap()
    });
    h.op("get_text", || {
        s2.get(black_box("user_name"))
            .unwrap()
            .as_text()
            .unwrap()
            .len()
    });
    let mut n = 0i64;
    h.op("set_i64", || {
        n += 1;
        s2.set(black_box("cart_items"), Value::Integer(n as i128))
            .unwrap()
    });

    let store = Arc::new(MemoryAccountStore::new());
    let props = state();
    let refs: Vec<(&str, &Value)> = props.iter().map(|(k, v)| (*k, v)).collect();
    store.create(USER, &refs).unwrap();
    let names: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    let dyn_store: Arc<dyn AccountStore> = store.clone();
    h.op("account_load_5", || {
        let mut a = Account::new(dyn_store.clone(), USER).unwrap();
        a.load(&names).unwrap();
        a
    });
    let mut account = Account::new(dyn_store.clone(), USER).unwrap();
    let mut m = 0i64;
    h.op("account_set_save_1", || {
        m += 1;
        account.set("cart_items", Value::from(m)).unwrap();
        account.save().unwrap()
    });
}

/// A manager over a memory cache holding `n` sessions (5-entry state, own user each).
fn manager_with(n: usize) -> (Manager, Vec<String>) {
    let cache = Arc::new(MemoryCache::new());
    let store = Arc::new(MemoryAccountStore::new());
    let manager = Manager::new(cache.clone(), store, ManagerConfig::default()).unwrap();
    let expires = now() + 86_400.0;
    let ids: Vec<String> = (0..n)
        .map(|i| {
            let id = toto_session::id::generate_id();
            let user = format!("user{i}");
            // Stored the way the manager saves a session (kept decoded).
            cache
                .store_session(&session(&id, &user, expires), StoreMode::Upsert)
                .unwrap();
            id
        })
        .collect();
    (manager, ids)
}

fn manager_benches(h: &mut Harness) {
    let body = message(1024);
    for n in [1_000usize, 100_000] {
        let (manager, ids) = manager_with(n);
        let order = Rng(0x9e37_79b9_7f4a_7c15).permutation(n);
        let mut k = 0usize;
        let label = if n == 1_000 { "1k" } else { "100k" };
        h.op(&format!("manager_retrieve_{label}"), || {
            k = (k + 1) % n;
            manager.retrieve_session(&ids[order[k]]).unwrap().unwrap()
        });
        if n == 1_000 {
            let mac = session(&ids[0], "x", 0.0)
                .sign_request(METHOD.as_bytes(), URI.as_bytes(), &body)
                .unwrap();
            h.op("manager_verify_request_1k", || {
                k = (k + 1) % n;
                manager
                    .verify_request(
                        &ids[order[k]],
                        mac.as_bytes(),
                        METHOD.as_bytes(),
                        URI.as_bytes(),
                        &body,
                    )
                    .unwrap()
            });
            let mut s = manager.retrieve_session(&ids[0]).unwrap().unwrap();
            let mut c = 0i64;
            h.op("manager_save_1k", || {
                c += 1;
                s.set("cart_items", Value::from(c)).unwrap();
                manager.save_session(&mut s).unwrap()
            });
            // The same over 8 sessions in turn, as a server saves its users' sessions
            // (what one save releases then serves another session's copy).
            let mut turn: Vec<Session> = ids[..TURNS]
                .iter()
                .map(|id| manager.retrieve_session(id).unwrap().unwrap())
                .collect();
            h.op("manager_save_1k_turns", || {
                c += 1;
                let s = &mut turn[c as usize % TURNS];
                s.set("cart_items", Value::from(c)).unwrap();
                manager.save_session(s).unwrap()
            });
        }
    }
}

/// A session whose state encodes to exactly `state_len` bytes of CBOR: the 5-entry
/// state plus a `note` text sized to make up the rest.
fn session_with_state_len(user: &str, expires: f64, state_len: usize) -> Session {
    let mut empty = Session::with_id(SESSION_ID, user, expires).unwrap();
    empty.set_key(Some(KEY)).unwrap();
    let base = session(SESSION_ID, user, expires);
    // Bytes the 5-entry state adds over an empty map (1 byte).
    let five = base.export().unwrap().len() - empty.export().unwrap().len() + 1;
    let mut pad = state_len.saturating_sub(five + 5 + 2);
    loop {
        let mut s = base.clone();
        s.set("note", Value::from("n".repeat(pad))).unwrap();
        let len = s.export().unwrap().len() - empty.export().unwrap().len() + 1;
        if len <= state_len || pad == 0 {
            return s;
        }
        pad -= 1;
    }
}

/// Client-side sessions (AES-256-GCM-SIV tokens): open + verify through the manager
/// per request with a 200-byte state, the request check on top, and sealing. Returns
/// the token length.
fn client_side(h: &mut Harness) -> usize {
    let keys = [ClientKey {
        id: 1,
        key: [0x42; CLIENT_KEY_LEN],
    }];
    let cache = Arc::new(ClientCache::new(&keys).unwrap());
    let manager = Manager::new(
        cache.clone(),
        Arc::new(MemoryAccountStore::new()),
        ManagerConfig::default(),
    )
    .unwrap();
    let mut s = session_with_state_len(USER, now() + 365.0 * 86400.0, 200);
    toto_session::backend::store_session(cache.as_ref(), &mut s, StoreMode::Upsert).unwrap();
    let token = s.id().to_owned();
    eprintln!(
        "  client-side token: {} characters (200-byte state)",
        token.len()
    );
    h.op("client_aead_open_200", || cache.open(&token).unwrap());
    let (_, record) = cache.open(&token).unwrap();
    h.op("client_record_import_200", || {
        Session::import(&record).unwrap()
    });
    h.op("client_open_200", || {
        manager.retrieve_session(&token).unwrap().unwrap()
    });
    let body = message(64);
    let mac = s
        .sign_request(METHOD.as_bytes(), URI.as_bytes(), &body)
        .unwrap();
    h.op("client_verify_request_200", || {
        manager
            .verify_request(
                &token,
                mac.as_bytes(),
                METHOD.as_bytes(),
                URI.as_bytes(),
                &body,
            )
            .unwrap()
    });
    h.op("client_seal_200", || {
        cache.store_session(&s, StoreMode::Upsert).unwrap()
    });
    token.len()
}

fn tower(h: &mut Harness) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for n in [1_000usize, 100_000] {
        let store = MemoryStore::default();
        let expiry = OffsetDateTime::now_utc() + TimeDuration::days(1);
        let ids: Vec<Id> = rt.block_on(async {
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let mut r = Record {
                    id: Id::default(),
                    data: state_json(),
                    expiry_date: expiry,
                };
                store.create(&mut r).await.unwrap();
                ids.push(r.id);
            }
            ids
        });
        let order = Rng(0x9e37_79b9_7f4a_7c15).permutation(n);
        let label = if n == 1_000 { "1k" } else { "100k" };
        let mut k = 0usize;
        h.measure(&format!("tower_load_{label}"), |iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    k = (k + 1) % n;
                    black_box(store.load(&ids[order[k]]).await.unwrap().unwrap());
                }
                t.elapsed()
            })
        });
        if n == 1_000 {
            // The same through a runtime entry per call (block_on), as a caller outside
            // async code, or a naive benchmark, pays it.
            h.op("tower_load_1k_block_on", || {
                k = (k + 1) % n;
                rt.block_on(store.load(&ids[order[k]])).unwrap().unwrap()
            });
            let mut r = rt.block_on(store.load(&ids[0])).unwrap().unwrap();
            let mut c = 0i64;
            h.measure("tower_save_1k", |iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for _ in 0..iters {
                        c += 1;
                        r.data.insert("cart_items".into(), c.into());
                        store.save(&r).await.unwrap();
                    }
                    t.elapsed()
                })
            });
            let mut turn: Vec<Record> = ids[..TURNS]
                .iter()
                .map(|id| rt.block_on(store.load(id)).unwrap().unwrap())
                .collect();
            h.measure("tower_save_1k_turns", |iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for _ in 0..iters {
                        c += 1;
                        let r = &mut turn[c as usize % TURNS];
                        r.data.insert("cart_items".into(), c.into());
                        store.save(r).await.unwrap();
                    }
                    t.elapsed()
                })
            });
        }
    }
}

fn main() {
    let quick = std::env::var_os("TOTO_BENCH_QUICK").is_some();
    let budget_ms = std::env::var("TOTO_BENCH_BUDGET_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(if quick { 60 } else { 300 });
    let mut h = Harness {
        budget: Duration::from_millis(budget_ms),
        out: Vec::new(),
    };
    eprintln!("rust core:");
    core(&mut h);
    manager_benches(&mut h);
    eprintln!("rust client-side sessions:");
    let token_len = client_side(&mut h);
    eprintln!("rust peer (tower-sessions MemoryStore):");
    tower(&mut h);
    let record_len = session(SESSION_ID, USER, 1.0).export().unwrap().len();
    println!(
        "{{\"results\": [\n  {}\n], \"info\": {{\"record_len\": {record_len}, \"client_token_len\": {token_len}}}}}",
        h.out.join(",\n  ")
    );
}
