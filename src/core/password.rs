//! Password hashes.
//!
//! - New hashes: Argon2id (RustCrypto `argon2`) in PHC string format; cost parameters
//!   are configurable ([`PasswordPolicy`]), the defaults follow OWASP's Argon2id advice
//!   (19 MiB, 2 passes, 1 lane).
//! - Legacy hashes: Toto's `$p5k2$[rounds]$<salt>$<hash>` (PBKDF2-HMAC-SHA1, 400 rounds
//!   when the field is empty, otherwise lowercase hex; 24-byte output; base64 with `.`
//!   and `/` as the last two characters; the salt input is the whole prefix
//!   `$p5k2$[rounds]$<salt>`), verified bit-exactly so existing accounts keep working,
//!   and reported as needing a rehash.
//!
//! Comparisons are constant-time. Nothing here prints a password or a hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::alphabet::Alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::core::error::{Error, Result};

/// Longest password accepted (Argon2 and PBKDF2 both hash any length; this bounds work).
pub const MAX_PASSWORD_LEN: usize = 4096;
/// Longest stored hash string accepted.
pub const MAX_HASH_LEN: usize = 512;
/// Highest Argon2 costs a stored hash may ask for (1 GiB, 64 passes, 16 lanes); a hash
/// above them never matches rather than tying up a thread and memory. A
/// [`PasswordPolicy`] above them is refused by [`Passwords::new`], so every hash the
/// library makes can be verified by it.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1 << 20;
/// Highest Argon2 pass count (see [`MAX_ARGON2_MEMORY_KIB`]).
pub const MAX_ARGON2_ITERATIONS: u32 = 64;
/// Highest Argon2 lane count (see [`MAX_ARGON2_MEMORY_KIB`]).
pub const MAX_ARGON2_PARALLELISM: u32 = 16;
/// Length of a generated password.
pub const GENERATED_PASSWORD_LEN: usize = 10;

const LEGACY_PREFIX: &str = "$p5k2$";
const LEGACY_DEFAULT_ROUNDS: u32 = 400;
/// Highest legacy round count honoured (Toto used 400); more is refused, not computed.
const LEGACY_MAX_ROUNDS: u32 = 1 << 17;
const LEGACY_OUTPUT_LEN: usize = 24;
const LEGACY_SALT_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./";

fn legacy_b64() -> GeneralPurpose {
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./")
            .expect("a valid 64-character alphabet");
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new().with_encode_padding(false),
    )
}

/// Argon2id cost parameters for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordPolicy {
    /// OWASP's Argon2id configuration: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        PasswordPolicy {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password (or a hash this library cannot read).
    Mismatch,
    /// Right password; the hash is current.
    Match,
    /// Right password; the hash should be replaced (legacy format or old parameters).
    MatchNeedsRehash,
}

impl Verdict {
    /// True for both matching verdicts.
    pub fn matched(self) -> bool {
        self != Verdict::Mismatch
    }
}

/// Hashes and verifies passwords under one policy.
#[derive(Clone)]
pub struct Passwords {
    policy: PasswordPolicy,
    argon: Argon2<'static>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("policy", &self.policy)
            .finish()
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::TooLarge {
            what: "password",
            limit: MAX_PASSWORD_LEN,
        });
    }
    Ok(())
}

impl Passwords {
    /// A hasher for `policy`. Refuses (as [`Error::InvalidArgument`]) parameters
    /// Argon2 does not accept and parameters above the verifier's own caps
    /// ([`MAX_ARGON2_MEMORY_KIB`], [`MAX_ARGON2_ITERATIONS`], [`MAX_ARGON2_PARALLELISM`]):
    /// an accepted policy always makes hashes that verify, and no policy can ask for
    /// more memory or time than those caps (nothing aborts or hangs).
    pub fn new(policy: PasswordPolicy) -> Result<Passwords> {
        if policy.memory_kib > MAX_ARGON2_MEMORY_KIB {
            return Err(Error::InvalidArgument(
                "password_memory_kib is above the verifier's limit (1048576 KiB)",
            ));
        }
        if policy.iterations > MAX_ARGON2_ITERATIONS {
            return Err(Error::InvalidArgument(
                "password_iterations is above the verifier's limit (64)",
            ));
        }
        if policy.parallelism > MAX_ARGON2_PARALLELISM {
            return Err(Error::InvalidArgument(
                "password_parallelism is above the verifier's limit (16)",
            ));
        }
        let params = Params::new(
            policy.memory_kib,
            policy.iterations,
            policy.parallelism,
            None,
        )
        .map_err(|_| Error::InvalidArgument("Argon2 parameters out of range"))?;
        Ok(Passwords {
            policy,
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> PasswordPolicy {
        self.policy
    }

    /// A new Argon2id PHC string for `password`, with a random salt.
    pub fn hash(&self, password: &str) -> Result<String> {
        check_password(password)?;
        // 16 random bytes, as `SaltString::generate` draws (the PHC recommendation).
        let salt = SaltString::encode_b64(&crate::core::rng::bytes::<16>())
            .map_err(|_| Error::InvalidArgument("salt could not be encoded"))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| Error::InvalidArgument("password could not be hashed"))
    }

    /// Checks `password` against a stored hash (modern PHC or Toto legacy).
    pub fn verify(&self, password: &str, stored: &str) -> Result<Verdict> {
        check_password(password)?;
        if stored.len() > MAX_HASH_LEN {
            return Ok(Verdict::Mismatch);
        }
        if stored.starts_with(LEGACY_PREFIX) {
            return Ok(match verify_legacy(password, stored) {
                Ok(true) => Verdict::MatchNeedsRehash,
                _ => Verdict::Mismatch,
            });
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Ok(Verdict::Mismatch);
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return Ok(Verdict::Mismatch);
        };
        if params.m_cost() > MAX_ARGON2_MEMORY_KIB
            || params.t_cost() > MAX_ARGON2_ITERATIONS
            || params.p_cost() > MAX_ARGON2_PARALLELISM
        {
            return Ok(Verdict::Mismatch);
        }
        if self
            .argon
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Ok(Verdict::Mismatch);
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && params.m_cost() == self.policy.memory_kib
            && params.t_cost() == self.policy.iterations
            && params.p_cost() == self.policy.parallelism;
        Ok(if current {
            Verdict::Match
        } else {
            Verdict::MatchNeedsRehash
        })
    }
}

/// Checks that `stored` is a password hash this library can verify, for importing
/// hashes from another system ([`crate::Account::set_password_hash`]): an Argon2 PHC
/// string (`$argon2id$`, `$argon2i$` or `$argon2d$`, with a salt and a hash, costs
/// within [`MAX_ARGON2_MEMORY_KIB`], [`MAX_ARGON2_ITERATIONS`],
/// [`MAX_ARGON2_PARALLELISM`]) or a Toto `$p5k2$[rounds]$salt$hash` (24-byte hash,
/// rounds within the legacy cap). At most [`MAX_HASH_LEN`] bytes
/// ([`Error::TooLarge`]); anything else is [`Error::InvalidArgument`].
pub fn check_hash(stored: &str) -> Result<()> {
    let bad = || Error::InvalidArgument("not an Argon2 PHC or Toto $p5k2$ password hash");
    if stored.len() > MAX_HASH_LEN {
        return Err(Error::TooLarge {
            what: "password hash",
            limit: MAX_HASH_LEN,
        });
    }
    if stored.starts_with(LEGACY_PREFIX) {
        let (_, _, hash) = parse_legacy(stored).map_err(|_| bad())?;
        return match legacy_b64().decode(hash) {
            Ok(raw) if raw.len() == LEGACY_OUTPUT_LEN => Ok(()),
            _ => Err(bad()),
        };
    }
    let parsed = PasswordHash::new(stored).map_err(|_| bad())?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) || parsed.salt.is_none()
        || parsed.hash.is_none()
    {
        return Err(bad());
    }
    let params = Params::try_from(&parsed).map_err(|_| bad())?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB
        || params.t_cost() > MAX_ARGON2_ITERATIONS
        || params.p_cost() > MAX_ARGON2_PARALLELISM
    {
        return Err(Error::InvalidArgument(
            "the hash's Argon2 costs are above the verifier's limits",
        ));
    }
    Ok(())
}

/// A random password of [`GENERATED_PASSWORD_LEN`] letters and digits from the
/// library's fork-safe CSPRNG ([`crate::core::rng`]; rejection sampling: no modulo bias).
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(GENERATED_PASSWORD_LEN);
    let mut buf = [0u8; 32];
    while out.len() < GENERATED_PASSWORD_LEN {
        crate::core::rng::fill(&mut buf);
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would bias the first characters.
            if b < 248 && out.len() < GENERATED_PASSWORD_LEN {
                out.push(CHARS[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// Parses `$p5k2$[rounds]$salt$hash` into (salt input prefix, rounds, hash text).
fn parse_legacy(stored: &str) -> Result<(&str, u32, &str)> {
    let bad = || Error::InvalidArgument("not a $p5k2$ hash");
    let rest = stored.strip_prefix(LEGACY_PREFIX).ok_or_else(bad)?;
    let mut fields = rest.splitn(3, '$');
    let rounds_field = fields.next().ok_or_else(bad)?;
    let salt = fields.next().ok_or_else(bad)?;
    let hash = fields.next().ok_or_else(bad)?;
    let rounds = if rounds_field.is_empty() {
        LEGACY_DEFAULT_ROUNDS
    } else {
        let r = u32::from_str_radix(rounds_field, 16).map_err(|_| bad())?;
        // The original accepts only its own canonical spelling (lowercase, no zeros).
        if format!("{r:x}") != rounds_field || r == 0 || r > LEGACY_MAX_ROUNDS {
            return Err(bad());
        }
        r
    };
    if salt.is_empty() || !salt.chars().all(|c| LEGACY_SALT_CHARS.contains(c)) {
        return Err(bad());
    }
    let prefix_len = stored.len() - hash.len() - 1;
    Ok((&stored[..prefix_len], rounds, hash))
}

/// Toto's `crypt(password, salt)` for a salt prefix `$p5k2$[rounds]$salt`.
fn legacy_crypt(password: &str, prefix: &str, rounds: u32) -> String {
    let mut raw = [0u8; LEGACY_OUTPUT_LEN];
    pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), prefix.as_bytes(), rounds, &mut raw);
    legacy_b64().encode(raw)
}

/// Verifies a password against a Toto legacy hash, in constant time.
pub fn verify_legacy(password: &str, stored: &str) -> Result<bool> {
    check_password(password)?;
    let (prefix, rounds, hash) = parse_legacy(stored)?;
    let computed = legacy_crypt(password, prefix, rounds);
    Ok(bool::from(computed.as_bytes().ct_eq(hash.as_bytes())))
}

/// Makes a Toto legacy hash (for migrations and tests; never used for new accounts).
pub fn hash_legacy(password: &str, salt: &str, rounds: u32) -> Result<String> {
    check_password(password)?;
    let prefix = if rounds == LEGACY_DEFAULT_ROUNDS {
        format!("{LEGACY_PREFIX}${salt}")
    } else {
        format!("{LEGACY_PREFIX}{rounds:x}${salt}")
    };
    parse_legacy(&format!("{prefix}$x"))?;
    let hash = legacy_crypt(password, &prefix, rounds);
    Ok(format!("{prefix}${hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Passwords {
        Passwords::new(PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn modern_hash_round_trip() {
        let p = fast();
        let h = p.hash("hunter2").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(p.verify("hunter2", &h).unwrap(), Verdict::Match);
        assert_eq!(p.verify("hunter3", &h).unwrap(), Verdict::Mismatch);
        assert_ne!(p.hash("hunter2").unwrap(), h, "salted");
    }

    #[test]
    fn changed_policy_asks_for_rehash() {
        let h = fast().hash("pw").unwrap();
        let stronger = Passwords::new(PasswordPolicy {
            memory_kib: 128,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        assert_eq!(
            stronger.verify("pw", &h).unwrap(),
            Verdict::MatchNeedsRehash
        );
    }

    #[test]
    fn legacy_round_trip_with_custom_rounds() {
        let h = hash_legacy("pw", "abcdEFGH", 1000).unwrap();
        assert!(h.starts_with("$p5k2$3e8$abcdEFGH$"));
        assert_eq!(h.len(), "$p5k2$3e8$abcdEFGH$".len() + 32);
        assert!(verify_legacy("pw", &h).unwrap());
        assert!(!verify_legacy("pW", &h).unwrap());
        assert_eq!(fast().verify("pw", &h).unwrap(), Verdict::MatchNeedsRehash);
    }

    #[test]
    fn garbage_hashes_never_match() {
        let p = fast();
        let greedy = "$argon2id$v=19$m=2000000,t=1,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY";
        assert_eq!(
            p.verify("pw", greedy).unwrap(),
            Verdict::Mismatch,
            "costs above the caps are refused, not computed"
        );
        assert!(
            verify_legacy("pw", "$p5k2$100000$abcd$x").is_err(),
            "legacy rounds above the cap are refused"
        );
        for stored in [
            "",
            "$p5k2$",
            "$p5k2$$salt",
            "$p5k2$0$salt$x",
            "$p5k2$0190$s$x",
            "$p5k2$$bad salt$x",
            "$argon2id$junk",
            "plain",
        ] {
            assert_eq!(
                p.verify("pw", stored).unwrap(),
                Verdict::Mismatch,
                "{stored}"
            );
        }
        assert!(matches!(
            p.verify(&"x".repeat(MAX_PASSWORD_LEN + 1), "h"),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn policies_above_the_verifiers_limits_are_refused() {
        let ok = PasswordPolicy {
            memory_kib: 8 * MAX_ARGON2_PARALLELISM,
            iterations: MAX_ARGON2_ITERATIONS,
            parallelism: MAX_ARGON2_PARALLELISM,
        };
        // At the limits: accepted, and its hashes verify (an accepted policy works).
        let p = Passwords::new(ok).unwrap();
        let h = p.hash("pw").unwrap();
        assert_eq!(p.verify("pw", &h).unwrap(), Verdict::Match);
        let started = std::time::Instant::now();
        for bad in [
            PasswordPolicy {
                memory_kib: u32::MAX,
                ..ok
            },
            PasswordPolicy {
                memory_kib: MAX_ARGON2_MEMORY_KIB + 1,
                ..ok
            },
            PasswordPolicy {
                iterations: u32::MAX,
                ..ok
            },
            PasswordPolicy {
                iterations: MAX_ARGON2_ITERATIONS + 1,
                ..ok
            },
            PasswordPolicy {
                parallelism: MAX_ARGON2_PARALLELISM + 1,
                memory_kib: 8 * (MAX_ARGON2_PARALLELISM + 1),
                ..ok
            },
            PasswordPolicy {
                parallelism: 0,
                ..ok
            },
        ] {
            assert!(
                matches!(Passwords::new(bad), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn importable_hashes() {
        let p = fast();
        check_hash(&p.hash("pw").unwrap()).unwrap();
        check_hash(&hash_legacy("pw", "abcdEFGH", 400).unwrap()).unwrap();
        check_hash(&hash_legacy("pw", "abcdEFGH", 1000).unwrap()).unwrap();
        let legacy = hash_legacy("pw", "abcdEFGH", 400).unwrap();
        for bad in [
            "",
            "plain",
            "hunter2",
            "$p5k2$$abcdEFGH$",
            "$p5k2$$abcdEFGH$short",
            &legacy[..legacy.len() - 1],
            "$p5k2$100000$abcd$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "$argon2id$junk",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=2000000,t=1,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY",
            "$argon2id$v=19$m=64,t=65,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY",
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY",
        ] {
            assert!(
                matches!(check_hash(bad), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            check_hash(&format!("$p5k2$${}", "a".repeat(MAX_HASH_LEN))),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn generated_passwords() {
        let a = generate_password();
        assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password());
    }
}
