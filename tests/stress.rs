//! Thread stress: several threads run mixed operations on one manager; afterwards
//! every session that was saved and not removed reads back exactly as its owner thread
//! last wrote it. A watchdog bounds the run (a deadlock fails instead of hanging).

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use toto_session::password::PasswordPolicy;
use toto_session::{Manager, ManagerConfig, MemoryAccountStore, MemoryCache, Value};

const THREADS: usize = 6;
const OPS: usize = 1500;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn worker(m: &Manager, t: usize) -> HashMap<String, i64> {
    let user = format!("user{t}");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
    // id -> last value written by this thread
    let mut mine: HashMap<String, i64> = HashMap::new();
    for step in 0..OPS as i64 {
        let pick = |rng: &mut Rng, mine: &HashMap<String, i64>| {
            let n = mine.len();
            (n > 0).then(|| mine.keys().nth(rng.next() as usize % n).unwrap().clone())
        };
        match rng.next() % 10 {
            0..=2 => {
                let anonymous = rng.next().is_multiple_of(4);
                let mut s = m
                    .create_session(
                        if anonymous { "" } else { &user },
                        rng.next().is_multiple_of(2),
                    )
                    .unwrap();
                s.set("v", Value::from(step)).unwrap();
                s.set("owner", Value::from(t as i64)).unwrap();
                m.save_session(&mut s).unwrap();
                mine.insert(s.id().to_owned(), step);
            }
            3..=4 => {
                if let Some(id) = pick(&mut rng, &mine) {
                    let s = m.retrieve_session(&id).unwrap().expect("own live session");
                    assert_eq!(
                        s.get("v"),
                        Some(&Value::from(mine[&id])),
                        "read back what was written"
                    );
                }
            }
            5..=6 => {
                if let Some(id) = pick(&mut rng, &mine) {
                    let mut s = m.retrieve_session(&id).unwrap().expect("own live session");
                    s.set("v", Value::from(step)).unwrap();
                    m.save_session(&mut s).unwrap();
                    mine.insert(id, step);
                }
            }
            7 => {
                if let Some(id) = pick(&mut rng, &mine) {
                    let mut s = m.retrieve_session(&id).unwrap().expect("own live session");
                    m.rotate_session(&mut s).unwrap();
                    let v = mine.remove(&id).unwrap();
                    mine.insert(s.id().to_owned(), v);
                }
            }
            8 => {
                if let Some(id) = pick(&mut rng, &mine) {
                    m.remove_session(&id).unwrap();
                    mine.remove(&id);
                }
            }
            _ => {
                if rng.next().is_multiple_of(8) {
                    m.clear_sessions(&user).unwrap();
                    // Only this thread's user-bound sessions go; anonymous ones stay.
                    mine.retain(|id, _| {
                        m.retrieve_session(id)
                            .unwrap()
                            .is_some_and(|s| s.is_anonymous())
                    });
                }
            }
        }
    }
    mine
}

#[test]
fn mixed_operations_from_many_threads_lose_nothing() {
    stress(MemoryCache::new());
}

#[test]
fn the_same_over_the_compact_memory_cache() {
    stress(MemoryCache::compact());
}

fn stress(cache: MemoryCache) {
    let cache = Arc::new(cache);
    let config = ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..ManagerConfig::default()
    };
    let m =
        Arc::new(Manager::new(cache.clone(), Arc::new(MemoryAccountStore::new()), config).unwrap());
    let (tx, rx) = mpsc::channel();
    for t in 0..THREADS {
        let (m, tx) = (m.clone(), tx.clone());
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker(&m, t)));
            let _ = tx.send((t, result));
        });
    }
    drop(tx);
    let mut expected = Vec::new();
    for _ in 0..THREADS {
        let (t, result) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a worker hung: deadlock?");
        expected.push((t, result.unwrap_or_else(|_| panic!("worker {t} failed"))));
    }
    let mut live = 0;
    for (t, sessions) in expected {
        for (id, v) in sessions {
            let s = m
                .retrieve_session(&id)
                .unwrap()
                .unwrap_or_else(|| panic!("thread {t} lost {id}"));
            assert_eq!(s.get("v"), Some(&Value::from(v)));
            assert_eq!(s.get("owner"), Some(&Value::from(t as i64)));
            live += 1;
        }
    }
    assert!(
        live >= THREADS * 10,
        "the run kept sessions alive to check ({live})"
    );
    assert_eq!(cache.len(), live, "nothing left behind that nobody owns");
}
