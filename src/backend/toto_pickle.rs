//! Python Toto's session bytes, both ways: the pickled `session_data()` dict that
//! Toto 1.0.10's `RedisSessionCache` keeps under `session:<id>`, read into a
//! [`Session`], and a [`Session`] written back as such a pickle (so a Python Toto
//! service can read a session this library made).
//!
//! What Toto stores is `cPickle.dumps(session.session_data())`: a dict with
//! `user_id`, `expires` (float), `session_id`, `state` and, when set, `key`, where
//! `state` is itself a pickle (a byte string) of the session's state dict.
//!
//! Reading never executes anything and accepts only the types Toto's sessions hold:
//! Python 2 `str` and `unicode`, `int` and `long`, `float`, `bool`, `None`, `list`,
//! `tuple` and `dict`. Before the pickle reaches the decoder (`serde-pickle`) a scan of
//! its opcodes refuses every other opcode (globals, `REDUCE`, class instances, sets,
//! persistent ids, extension codes) and measures the value the memo references would
//! build, so a small pickle cannot expand into a huge or deeply nested one, and
//! recursive structures are refused. Anything refused is [`Error::Decode`] naming what
//! was wrong (`TOTO_RESULT_INVALID_CBOR` at the C ABI: "malformed stored data"), for
//! that session only.
//!
//! Conversions: `unicode` is text; a Python 2 `str` is text when it is UTF-8, bytes
//! otherwise; `int`/`long` are integers (outside CBOR's range: refused); `list` and
//! `tuple` are arrays; `dict` is a map (state keys must be text). Writing: text is a
//! `str` when it is ASCII and `unicode` otherwise, bytes are a `str`, integers are
//! `int` (or `long` past 64 bits), floats, booleans, null, arrays (`list`) and maps
//! (`dict`, whose keys must not be arrays or maps) as themselves; protocol 2, which
//! Python 2 and 3 both read.

use serde_pickle::{DeOptions, HashableValue, Value as PValue};

use crate::core::error::{Error, Result};
use crate::core::limits::{MAX_DEPTH, MAX_RECORD_LEN};
use crate::core::session::Session;
use crate::core::value::{Value, CBOR_INT_MAX, CBOR_INT_MIN};

/// Largest pickle accepted, and largest value (in payload bytes plus one per item) its
/// memo references may expand into.
pub const MAX_PICKLE_LEN: usize = MAX_RECORD_LEN;

/// Deepest nesting accepted in one pickle: the state dict (or the session dict) plus
/// the core's limit for one value.
const MAX_PICKLE_DEPTH: usize = MAX_DEPTH + 1;

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Decode(format!("Toto session pickle: {what}"))
}

/// How an opcode's argument is laid out.
#[derive(Clone, Copy)]
enum Arg {
    None,
    /// Up to and including a newline.
    Line,
    Fixed(usize),
    /// A little-endian length of 1, 4 or 8 bytes, then that many bytes.
    Counted(usize),
}

/// What an accepted opcode does to the stack (enough to measure the value it builds).
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Leaf,
    Mark,
    Stop,
    Pop,
    PopMark,
    Dup,
    Append,
    Appends,
    SetItem,
    SetItems,
    FromMark,
    Empty,
    Tuple(usize),
    Get,
    Put,
    Memoize,
    Nothing,
}

/// The opcodes of the value types Toto's sessions hold (protocols 0 to 5); anything
/// else is refused.
fn opcode(code: u8) -> Option<(Arg, Op)> {
    use Arg::*;
    Some(match code {
        b'F' | b'I' | b'L' | b'S' | b'V' => (Line, Op::Leaf),
        b'K' => (Fixed(1), Op::Leaf),
        b'M' => (Fixed(2), Op::Leaf),
        b'J' => (Fixed(4), Op::Leaf),
        b'G' => (Fixed(8), Op::Leaf),
        b'U' | b'C' | 0x8a | 0x8c => (Counted(1), Op::Leaf),
        b'T' | b'X' | b'B' | 0x8b => (Counted(4), Op::Leaf),
        0x8d | 0x8e => (Counted(8), Op::Leaf),
        b'N' | 0x88 | 0x89 => (None, Op::Leaf),
        b'(' => (None, Op::Mark),
        b'.' => (None, Op::Stop),
        b'0' => (None, Op::Pop),
        b'1' => (None, Op::PopMark),
        b'2' => (None, Op::Dup),
        b'a' => (None, Op::Append),
        b'e' => (None, Op::Appends),
        b's' => (None, Op::SetItem),
        b'u' => (None, Op::SetItems),
        b'd' | b'l' | b't' => (None, Op::FromMark),
        b'}' | b']' | b')' => (None, Op::Empty),
        0x85 => (None, Op::Tuple(1)),
        0x86 => (None, Op::Tuple(2)),
        0x87 => (None, Op::Tuple(3)),
        b'g' => (Line, Op::Get),
        b'h' => (Fixed(1), Op::Get),
        b'j' => (Fixed(4), Op::Get),
        b'p' => (Line, Op::Put),
        b'q' => (Fixed(1), Op::Put),
        b'r' => (Fixed(4), Op::Put),
        0x94 => (None, Op::Memoize),
        0x80 => (Fixed(1), Op::Nothing),
        0x95 => (Fixed(8), Op::Nothing),
        _ => return Option::None,
    })
}

fn opcode_name(code: u8) -> String {
    match code {
        b'c' | 0x93 => "a global (class or function)".into(),
        b'R' => "REDUCE (a call)".into(),
        b'i' | b'o' | 0x81 | 0x92 | b'b' => "a class instance".into(),
        b'P' | b'Q' => "a persistent id".into(),
        0x82..=0x84 => "an extension code".into(),
        0x8f..=0x91 => "a set".into(),
        0x96..=0x98 => "an out-of-band buffer".into(),
        other => format!("opcode 0x{other:02x}"),
    }
}

/// One item a scanned pickle builds: its payload size and what it contains.
struct Node {
    payload: u64,
    container: bool,
    children: Vec<u32>,
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Checks that `data` is one pickle of allowed opcodes whose value, with every memo
/// reference expanded, stays within [`MAX_PICKLE_LEN`] and the depth limit.
fn scan(data: &[u8]) -> Result<()> {
    if data.len() > MAX_PICKLE_LEN {
        return Err(Error::TooLarge {
            what: "Toto session pickle",
            limit: MAX_PICKLE_LEN,
        });
    }
    let mut nodes: Vec<Node> = Vec::new();
    // `None` is a MARK.
    let mut stack: Vec<Option<u32>> = Vec::new();
    let mut memo: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    let mut pos = 0usize;
    let truncated = || bad("truncated");
    let root = loop {
        let code = *data.get(pos).ok_or_else(truncated)?;
        pos += 1;
        let (arg, op) =
            opcode(code).ok_or_else(|| bad(format!("{} is not allowed", opcode_name(code))))?;
        let arg_bytes: &[u8] = match arg {
            Arg::None => &[],
            Arg::Line => {
                let rest = &data[pos..];
                let end = rest
                    .iter()
                    .position(|b| *b == b'\n')
                    .ok_or_else(truncated)?;
                pos += end + 1;
                &rest[..end]
            }
            Arg::Fixed(n) => {
                let a = data.get(pos..pos + n).ok_or_else(truncated)?;
                pos += n;
                a
            }
            Arg::Counted(n) => {
                let len = le(data.get(pos..pos + n).ok_or_else(truncated)?);
                pos += n;
                let len = usize::try_from(len).map_err(|_| truncated())?;
                let end = pos.checked_add(len).ok_or_else(truncated)?;
                let a = data.get(pos..end).ok_or_else(truncated)?;
                pos = end;
                a
            }
        };
        let pop = |stack: &mut Vec<Option<u32>>| -> Result<u32> {
            stack.pop().flatten().ok_or_else(|| bad("stack underflow"))
        };
        let pop_mark = |stack: &mut Vec<Option<u32>>| -> Result<Vec<u32>> {
            let mark = stack
                .iter()
                .rposition(Option::is_none)
                .ok_or_else(|| bad("no MARK"))?;
            let items = stack.drain(mark..).skip(1).flatten().collect();
            Ok(items)
        };
        let new_node = |nodes: &mut Vec<Node>, payload: usize, container, children| {
            nodes.push(Node {
                payload: payload as u64,
                container,
                children,
            });
            (nodes.len() - 1) as u32
        };
        let add_to_top = |nodes: &mut Vec<Node>, stack: &[Option<u32>], items: &[u32]| {
            let top = stack
                .last()
                .copied()
                .flatten()
                .ok_or_else(|| bad("stack underflow"))?;
            let node = &mut nodes[top as usize];
            if !node.container {
                return Err(bad("items added to a scalar"));
            }
            node.children.extend_from_slice(items);
            Ok(())
        };
        let memo_id = |arg: &[u8]| -> Result<u64> {
            if matches!(code, b'g' | b'p') {
                std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| bad("malformed memo index"))
            } else {
                Ok(le(arg))
            }
        };
        match op {
            Op::Leaf => {
                let id = new_node(&mut nodes, arg_bytes.len(), false, Vec::new());
                stack.push(Some(id));
            }
            Op::Mark => stack.push(None),
            Op::Stop => {
                let root = pop(&mut stack)?;
                if !stack.is_empty() || pos != data.len() {
                    return Err(bad("trailing data"));
                }
                break root;
            }
            Op::Pop => {
                if stack.pop().is_none() {
                    return Err(bad("stack underflow"));
                }
            }
            Op::PopMark => {
                pop_mark(&mut stack)?;
            }
            Op::Dup => {
                let top = stack.last().copied().flatten().ok_or_else(truncated)?;
                stack.push(Some(top));
            }
            Op::Append => {
                let item = pop(&mut stack)?;
                add_to_top(&mut nodes, &stack, &[item])?;
            }
            Op::Appends | Op::SetItems => {
                let items = pop_mark(&mut stack)?;
                add_to_top(&mut nodes, &stack, &items)?;
            }
            Op::SetItem => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                add_to_top(&mut nodes, &stack, &[k, v])?;
            }
            Op::FromMark => {
                let items = pop_mark(&mut stack)?;
                let id = new_node(&mut nodes, 0, true, items);
                stack.push(Some(id));
            }
            Op::Empty => {
                let id = new_node(&mut nodes, 0, true, Vec::new());
                stack.push(Some(id));
            }
            Op::Tuple(n) => {
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(pop(&mut stack)?);
                }
                items.reverse();
                let id = new_node(&mut nodes, 0, true, items);
                stack.push(Some(id));
            }
            Op::Get => {
                let id = *memo
                    .get(&memo_id(arg_bytes)?)
                    .ok_or_else(|| bad("memo reference to nothing"))?;
                stack.push(Some(id));
            }
            Op::Put => {
                let top = stack.last().copied().flatten().ok_or_else(truncated)?;
                memo.insert(memo_id(arg_bytes)?, top);
            }
            Op::Memoize => {
                let top = stack.last().copied().flatten().ok_or_else(truncated)?;
                let next = memo.len() as u64;
                memo.insert(next, top);
            }
            Op::Nothing => {}
        }
    };
    measure(&nodes, root)
}

/// Expanded size and depth of the value rooted at `root`, each node measured once
/// (memo references make the nodes a graph); a cycle is refused.
fn measure(nodes: &[Node], root: u32) -> Result<()> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    let mut mark = vec![NEW; nodes.len()];
    let mut weight = vec![0u64; nodes.len()];
    let mut depth = vec![0usize; nodes.len()];
    let mut walk: Vec<(u32, usize)> = vec![(root, 0)];
    mark[root as usize] = OPEN;
    while let Some(&mut (node, ref mut next)) = walk.last_mut() {
        let n = &nodes[node as usize];
        if let Some(&child) = n.children.get(*next) {
            *next += 1;
            match mark[child as usize] {
                NEW => {
                    if walk.len() > MAX_PICKLE_DEPTH {
                        return Err(bad("nested too deeply"));
                    }
                    mark[child as usize] = OPEN;
                    walk.push((child, 0));
                }
                OPEN => return Err(bad("recursive structure")),
                _ => {}
            }
            continue;
        }
        let mut w = 1 + n.payload;
        let mut d = 0;
        for &c in &n.children {
            w = w.saturating_add(weight[c as usize]);
            d = d.max(depth[c as usize]);
        }
        if n.container {
            d += 1;
        }
        if w > MAX_PICKLE_LEN as u64 {
            return Err(Error::TooLarge {
                what: "Toto session state",
                limit: MAX_PICKLE_LEN,
            });
        }
        if d > MAX_PICKLE_DEPTH {
            return Err(bad("nested too deeply"));
        }
        weight[node as usize] = w;
        depth[node as usize] = d;
        mark[node as usize] = 2;
        walk.pop();
    }
    Ok(())
}

/// Scans, then decodes one pickle into serde-pickle's value model.
fn load(data: &[u8]) -> Result<PValue> {
    scan(data)?;
    serde_pickle::value_from_slice(data, DeOptions::new()).map_err(bad)
}

fn text_or_bytes(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::Text(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

fn integer(text: String) -> Result<Value> {
    match text.parse::<i128>() {
        Ok(i) if (CBOR_INT_MIN..=CBOR_INT_MAX).contains(&i) => Ok(Value::Integer(i)),
        _ => Err(bad("an integer outside the range a state value can hold")),
    }
}

fn convert(v: PValue) -> Result<Value> {
    Ok(match v {
        PValue::None => Value::Null,
        PValue::Bool(b) => Value::Bool(b),
        PValue::I64(i) => Value::Integer(i.into()),
        PValue::Int(i) => integer(i.to_string())?,
        PValue::F64(f) => Value::Float(f),
        PValue::Bytes(b) => text_or_bytes(b),
        PValue::String(s) => Value::Text(s),
        PValue::List(items) | PValue::Tuple(items) => {
            Value::Array(items.into_iter().map(convert).collect::<Result<_>>()?)
        }
        PValue::Dict(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((convert_key(k)?, convert(v)?)))
                .collect::<Result<_>>()?,
        ),
        PValue::Set(_) | PValue::FrozenSet(_) => return Err(bad("a set is not allowed")),
    })
}

fn convert_key(k: HashableValue) -> Result<Value> {
    Ok(match k {
        HashableValue::None => Value::Null,
        HashableValue::Bool(b) => Value::Bool(b),
        HashableValue::I64(i) => Value::Integer(i.into()),
        HashableValue::Int(i) => integer(i.to_string())?,
        HashableValue::F64(f) => Value::Float(f),
        HashableValue::Bytes(b) => text_or_bytes(b),
        HashableValue::String(s) => Value::Text(s),
        HashableValue::Tuple(items) => {
            Value::Array(items.into_iter().map(convert_key).collect::<Result<_>>()?)
        }
        HashableValue::FrozenSet(_) => return Err(bad("a set is not allowed")),
    })
}

/// A dict with text keys (a Python 2 `str` key must be UTF-8).
fn text_dict(v: PValue, what: &str) -> Result<Vec<(String, PValue)>> {
    let PValue::Dict(entries) = v else {
        return Err(bad(format!("{what} is not a dict")));
    };
    entries
        .into_iter()
        .map(|(k, v)| {
            let k = match k {
                HashableValue::String(s) => s,
                HashableValue::Bytes(b) => {
                    String::from_utf8(b).map_err(|_| bad(format!("a {what} key is not UTF-8")))?
                }
                _ => return Err(bad(format!("a {what} key is not text"))),
            };
            Ok((k, v))
        })
        .collect()
}

fn field_text(v: PValue, what: &str) -> Result<String> {
    match v {
        PValue::String(s) => Ok(s),
        PValue::Bytes(b) => String::from_utf8(b).map_err(|_| bad(format!("{what} is not UTF-8"))),
        _ => Err(bad(format!("{what} is not text"))),
    }
}

/// The state dict of a session, from the pickle in its `state` field.
pub fn decode_state(data: &[u8]) -> Result<Vec<(String, Value)>> {
    text_dict(load(data)?, "state")?
        .into_iter()
        .map(|(k, v)| Ok((k, convert(v)?)))
        .collect()
}

/// Reads Toto's pickled `session_data()` stored for session `id` into a clean
/// session. The pickle's `session_id` must be `id`.
pub fn decode_session(id: &str, data: &[u8]) -> Result<Session> {
    let mut user_id = None;
    let mut expires = None;
    let mut session_id = None;
    let mut key = None;
    let mut state = None;
    for (name, v) in text_dict(load(data)?, "session data")? {
        match name.as_str() {
            "user_id" => {
                user_id = match v {
                    PValue::None => Some(String::new()),
                    v => Some(field_text(v, "user_id")?),
                }
            }
            "expires" => {
                expires = Some(match v {
                    PValue::F64(f) => f,
                    PValue::I64(i) => i as f64,
                    _ => return Err(bad("expires is not a number")),
                })
            }
            "session_id" => session_id = Some(field_text(v, "session_id")?),
            "key" => {
                key = match v {
                    PValue::None => None,
                    v => Some(field_text(v, "key")?).filter(|k| !k.is_empty()),
                }
            }
            "state" => {
                state = match v {
                    PValue::None => None,
                    PValue::Bytes(b) => Some(b),
                    PValue::String(s) => Some(s.into_bytes()),
                    _ => return Err(bad("state is not a pickled string")),
                }
            }
            _ => {} // Fields a subclass added: not part of a session here.
        }
    }
    let user_id = user_id.ok_or_else(|| bad("user_id is missing"))?;
    let expires = expires.ok_or_else(|| bad("expires is missing"))?;
    if session_id.as_deref() != Some(id) {
        return Err(bad("session_id does not match the key it is stored under"));
    }
    let mut session = Session::with_id(id, &user_id, expires)
        .map_err(|e| bad(format!("not a valid session: {e}")))?;
    session
        .set_key(key.as_deref())
        .map_err(|e| bad(format!("not a valid key: {e}")))?;
    // Toto: `session_data.get('state') and loads(state) or {}`.
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        for (name, value) in decode_state(&state)? {
            session
                .set(&name, value)
                .map_err(|e| bad(format!("state value {name:?}: {e}")))?;
        }
    }
    session.mark_clean();
    Ok(session)
}

/// A pickle writer for protocol 2 (what Python 2's `cPickle` reads natively).
struct Writer(Vec<u8>);

impl Writer {
    fn new() -> Writer {
        Writer(vec![0x80, 2])
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(b'.');
        self.0
    }

    /// A Python 2 `str` (bytes).
    fn bytes(&mut self, b: &[u8]) {
        match u8::try_from(b.len()) {
            Ok(n) => self.0.extend_from_slice(&[b'U', n]),
            Err(_) => {
                self.0.push(b'T');
                self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
            }
        }
        self.0.extend_from_slice(b);
    }

    /// Text: a `str` when ASCII (what Python 2 code expects), `unicode` otherwise.
    fn text(&mut self, s: &str) {
        if s.is_ascii() {
            self.bytes(s.as_bytes());
        } else {
            self.0.push(b'X');
            self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.0.extend_from_slice(s.as_bytes());
        }
    }

    fn float(&mut self, f: f64) {
        self.0.push(b'G');
        self.0.extend_from_slice(&f.to_be_bytes());
    }

    fn integer(&mut self, i: i128) {
        if let Ok(small) = i32::try_from(i) {
            self.0.push(b'J');
            self.0.extend_from_slice(&small.to_le_bytes());
        } else if i64::try_from(i).is_ok() {
            // INT with text: an `int` on a 64-bit Python 2 (LONG would make a `long`).
            self.0.push(b'I');
            self.0.extend_from_slice(i.to_string().as_bytes());
            self.0.push(b'\n');
        } else {
            // LONG1: little-endian two's complement, as short as the sign allows.
            let bytes = i.to_le_bytes();
            let mut n = bytes.len();
            while n > 1 {
                let (last, prev) = (bytes[n - 1], bytes[n - 2]);
                if (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0) {
                    n -= 1;
                } else {
                    break;
                }
            }
            self.0.extend_from_slice(&[0x8a, n as u8]);
            self.0.extend_from_slice(&bytes[..n]);
        }
    }

    fn value(&mut self, v: &Value, is_key: bool) -> Result<()> {
        match v {
            Value::Null => self.0.push(b'N'),
            Value::Bool(true) => self.0.push(0x88),
            Value::Bool(false) => self.0.push(0x89),
            Value::Integer(i) => self.integer(*i),
            Value::Float(f) => self.float(*f),
            Value::Text(s) => self.text(s),
            Value::Bytes(b) => self.bytes(b),
            Value::Array(_) | Value::Map(_) if is_key => {
                return Err(Error::InvalidArgument(
                    "a map key that is an array or map cannot be written as a Toto pickle",
                ))
            }
            Value::Array(items) => {
                self.0.push(b']');
                if !items.is_empty() {
                    self.0.push(b'(');
                    for item in items {
                        self.value(item, false)?;
                    }
                    self.0.push(b'e');
                }
            }
            Value::Map(entries) => {
                self.0.push(b'}');
                if !entries.is_empty() {
                    self.0.push(b'(');
                    for (k, v) in entries {
                        self.value(k, true)?;
                        self.value(v, false)?;
                    }
                    self.0.push(b'u');
                }
            }
        }
        Ok(())
    }
}

/// The pickle of a session's state dict (Toto's `TotoSession.dumps(state)`).
pub fn encode_state(session: &Session) -> Result<Vec<u8>> {
    let mut w = Writer::new();
    w.0.push(b'}');
    if !session.is_empty() {
        w.0.push(b'(');
        for (name, value) in session.state().iter() {
            w.text(name);
            w.value(value, false)?;
        }
        w.0.push(b'u');
    }
    Ok(w.finish())
}

/// The pickle Toto's `RedisSessionCache.store_session` writes for this session:
/// `session_data()` with the state pickled inside.
pub fn encode_session(session: &Session) -> Result<Vec<u8>> {
    let state = encode_state(session)?;
    let mut w = Writer::new();
    w.0.extend_from_slice(b"}(");
    w.text("user_id");
    w.text(session.user_id());
    w.text("expires");
    w.float(session.expires());
    w.text("session_id");
    w.text(session.id());
    w.text("state");
    w.bytes(&state);
    if let Some(key) = session.key() {
        w.text("key");
        w.text(key);
    }
    w.0.push(b'u');
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let mut s = Session::with_id("IpHYzcMQQR5-wnN4pmHJNQ", "alice", 2e9).unwrap();
        s.set_key(Some("k3y")).unwrap();
        s.set("n", Value::Integer(-7)).unwrap();
        s.set("big", Value::Integer(1 << 40)).unwrap();
        s.set("huge", Value::Integer(-(1i128 << 64))).unwrap();
        s.set("f", Value::Float(1.5)).unwrap();
        s.set("t", Value::Text("héllo".into())).unwrap();
        s.set("b", Value::Bool(false)).unwrap();
        s.set("z", Value::Null).unwrap();
        s.set(
            "m",
            Value::Map(vec![(
                Value::Text("xs".into()),
                Value::Array(vec![Value::Integer(1), Value::Text("two".into())]),
            )]),
        )
        .unwrap();
        s.mark_clean();
        s
    }

    #[test]
    fn round_trip() {
        let s = session();
        let bytes = encode_session(&s).unwrap();
        assert_eq!(decode_session(s.id(), &bytes).unwrap(), s);
    }

    #[test]
    fn refuses_mismatched_id_and_missing_fields() {
        let bytes = encode_session(&session()).unwrap();
        assert!(matches!(
            decode_session("other", &bytes),
            Err(Error::Decode(_))
        ));
        // {'user_id': 'a'} only.
        let p = b"\x80\x02}(U\x07user_idU\x01au.";
        assert!(matches!(decode_session("x", p), Err(Error::Decode(_))));
    }

    #[test]
    fn protocol_0_as_cpickle_writes_it() {
        // cPickle.dumps({'a': [1, 2L, u'\xe9', 'x', None, True, 1.5, (3,)]})
        let p = b"(dp1\nS'a'\n(lp2\nI1\naL2L\naV\\u00e9\np3\naS'x'\naNaI01\naF1.5\na(I3\ntp4\nas.";
        let state = decode_state(p).unwrap();
        assert_eq!(state.len(), 1);
        assert_eq!(
            state[0].1,
            Value::Array(vec![
                Value::Integer(1),
                Value::Integer(2),
                Value::Text("é".into()),
                Value::Text("x".into()),
                Value::Null,
                Value::Bool(true),
                Value::Float(1.5),
                Value::Array(vec![Value::Integer(3)]),
            ])
        );
    }

    #[test]
    fn refuses_code_objects_sets_and_bombs() {
        // cPickle.dumps(datetime.datetime(2020, 1, 1)) (a global + REDUCE).
        let p = b"cdatetime\ndatetime\np1\n(S'\\x07\\xe4\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00'\ntRp2\n.";
        let e = decode_state(p).unwrap_err();
        assert!(e.to_string().contains("global"), "{e}");
        // An old-style instance (INST).
        assert!(decode_state(b"(i__main__\nC\np1\n(dp2\nb.").is_err());
        // A set (protocol 4 EMPTY_SET).
        assert!(decode_state(b"\x80\x04\x8f.").is_err());
        // A recursive list: l = []; l.append(l).
        assert!(decode_state(b"\x80\x02]q\x00h\x00a.").is_err());
        // Memo doubling: each level references the previous one twice (2^40 items).
        let mut p = b"\x80\x02]q\x00".to_vec();
        for i in 1..=40u8 {
            p.extend_from_slice(&[b'0', b']', b'(', b'h', i - 1, b'h', i - 1, b'e', b'q', i]);
        }
        p.push(b'.');
        let e = decode_state(&p);
        assert!(matches!(e, Err(Error::TooLarge { .. })), "{e:?}");
        // Deep nesting.
        let mut deep = b"\x80\x02".to_vec();
        deep.extend(std::iter::repeat_n(b']', 100_000));
        deep.extend(std::iter::repeat_n(b'a', 99_999));
        deep.push(b'.');
        assert!(decode_state(&deep).is_err());
        // Truncated and empty input.
        assert!(decode_state(b"\x80\x02}(U\x01a").is_err());
        assert!(decode_state(b"").is_err());
        // Not a dict at the top.
        assert!(decode_state(b"\x80\x02K\x01.").is_err());
    }

    #[test]
    fn integer_encodings() {
        for i in [
            0i128,
            -1,
            255,
            1 << 31,
            -(1 << 31) - 1,
            i64::MAX as i128,
            i64::MIN as i128,
            (1 << 64) - 1,
            -(1 << 64),
        ] {
            let mut s = Session::with_id("abc", "", 1.0).unwrap();
            s.set("i", Value::Integer(i)).unwrap();
            let back = decode_state(&encode_state(&s).unwrap()).unwrap();
            assert_eq!(back[0].1, Value::Integer(i), "{i}");
        }
    }
}
