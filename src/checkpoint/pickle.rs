//! The subset of Python's pickle protocol (versions 2-5) that `torch.save(state_dict)` writes.
//!
//! Nothing is executed: globals are kept as names, and only the calls a state dict needs are
//! understood (`OrderedDict()`, `torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`). Any other
//! call yields an opaque `Value::Object`, which is harmless unless a tensor is expected there.
//! Tensors come out as `TensorRef`s (storage key, offset, shape, stride): the bytes are read later.
//!
//! The memo holds copies, not references. Python would let a memoised dict grow after it is stored;
//! state dicts only memoise immutable things (tensors, storages, strings) before reusing them.
//! Copies are what makes a pickle bomb (DUP and TUPLE2 doubling one value 27 times in 60 bytes), so
//! every value carries its size and depth, every copy is paid for from a budget proportional to the
//! pickle's length, and nesting is bounded: hostile input fails early instead of exhausting memory or
//! the stack.

use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Also stands for `OrderedDict`; entries keep their order.
    Dict(Vec<(Value, Value)>),
    /// A `module.name` reference, never resolved.
    Global(String, String),
    /// A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`.
    Storage(StorageRef),
    Tensor(TensorRef),
    /// The result of a call we do not model, e.g. `torch.device('cpu')`.
    Object(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StorageRef {
    /// The storage class name: `FloatStorage`, `HalfStorage`, `BFloat16Storage`, `LongStorage`, ...
    pub kind: String,
    /// The archive entry holding its bytes is `<prefix>/data/<key>`.
    pub key: String,
    /// Number of elements (not bytes).
    pub numel: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TensorRef {
    pub storage: StorageRef,
    /// In elements from the start of the storage.
    pub offset: usize,
    pub shape: Vec<usize>,
    /// In elements; a tensor saved from a transpose or a slice is not contiguous.
    pub stride: Vec<usize>,
}

#[derive(Debug)]
pub(crate) enum PickleError {
    Unsupported { opcode: u8, offset: usize },
    Malformed { offset: usize, detail: String },
}

/// Values nest deeper than this only in a hostile pickle (a state dict nests five levels); every
/// walk of a value — clone, drop, comparison — recurses once per level.
pub(crate) const MAX_DEPTH: usize = 200;

/// Memory a pickle may build, per byte of pickle and in all. A `torch.save`d state dict spends
/// about 40 bytes of values per byte (a 2-byte `K` opcode makes a whole `Value`); memo gets and
/// DUP copy values, so a few dozen bytes can otherwise ask for gigabytes.
const BUDGET_PER_BYTE: usize = 256;
const BUDGET_FLOOR: usize = 1 << 20;

/// Runs the pickle machine over `bytes` and returns the object STOP leaves on the stack.
pub(crate) fn unpickle(bytes: &[u8]) -> Result<Value, PickleError> {
    Machine::new(bytes).run()
}

/// The bytes one value takes in place (the largest variant), before what it owns on the heap.
const NODE: usize = std::mem::size_of::<Value>();

/// A value on the stack or in the memo with what it costs: `size` in bytes (itself and all it
/// holds: what a copy allocates) and `depth` in levels (what a walk of it recurses).
#[derive(Clone)]
struct Slot {
    value: Value,
    size: usize,
    depth: usize,
}

impl Slot {
    /// A value holding no other value, with `heap` bytes of its own (string, bytes, shape).
    fn leaf(value: Value, heap: usize) -> Slot {
        Slot { value, size: NODE + heap, depth: 1 }
    }

    /// A container of `items`, which it takes over.
    fn container(items: Vec<Slot>, make: impl FnOnce(Vec<Value>) -> Value) -> Slot {
        let size = items.iter().map(|s| s.size).fold(NODE, usize::saturating_add);
        let depth = 1 + items.iter().map(|s| s.depth).max().unwrap_or(0);
        Slot { value: make(items.into_iter().map(|s| s.value).collect()), size, depth }
    }

    /// Takes `item` into this list or dict (APPEND, SETITEM).
    fn absorb(&mut self, item: &Slot) {
        self.size = self.size.saturating_add(item.size);
        self.depth = self.depth.max(1 + item.depth);
    }
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Byte offset of the opcode being executed, for error messages.
    op_at: usize,
    stack: Vec<Slot>,
    marks: Vec<usize>,
    memo: HashMap<u64, Slot>,
    /// Bytes of values made or copied so far (never given back: it also bounds the time), and
    /// the most the input may spend.
    spent: usize,
    budget: usize,
}

impl<'a> Machine<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let budget = bytes.len().saturating_mul(BUDGET_PER_BYTE).saturating_add(BUDGET_FLOOR);
        Machine { bytes, pos: 0, op_at: 0, stack: vec![], marks: vec![], memo: HashMap::new(), spent: 0, budget }
    }

    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            self.op_at = self.pos;
            let op = self.take(1)?[0];
            match op {
                0x80 => drop(self.take(1)?),                          // PROTO n
                0x95 => drop(self.take(8)?),                          // FRAME len: framing only groups opcodes
                b'(' => self.marks.push(self.stack.len()),            // MARK
                b'}' => self.push_leaf(Value::Dict(Vec::new()), 0)?,  // EMPTY_DICT
                b']' => self.push_leaf(Value::List(Vec::new()), 0)?,  // EMPTY_LIST
                b')' => self.push_leaf(Value::Tuple(Vec::new()), 0)?, // EMPTY_TUPLE
                b'N' => self.push_leaf(Value::None, 0)?,
                0x88 => self.push_leaf(Value::Bool(true), 0)?,  // NEWTRUE
                0x89 => self.push_leaf(Value::Bool(false), 0)?, // NEWFALSE
                b'J' => {
                    // BININT: signed 4 bytes
                    let v = i32::from_le_bytes(self.array()?);
                    self.push_leaf(Value::Int(v as i64), 0)?;
                }
                b'K' => {
                    let v = self.take(1)?[0]; // BININT1
                    self.push_leaf(Value::Int(v as i64), 0)?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?); // BININT2
                    self.push_leaf(Value::Int(v as i64), 0)?;
                }
                0x8a => {
                    // LONG1: n-byte little-endian two's complement (torch uses it for large numel)
                    let n = self.take(1)?[0] as usize;
                    let v = self.long(n)?;
                    self.push_leaf(Value::Int(v), 0)?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?); // BINFLOAT is big-endian
                    self.push_leaf(Value::Float(v), 0)?;
                }
                b'X' | b'T' => {
                    // BINUNICODE / BINSTRING: 4-byte length
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let s = self.string(n)?;
                    self.push_leaf(Value::Str(s), n)?;
                }
                0x8c | b'U' => {
                    // SHORT_BINUNICODE / SHORT_BINSTRING: 1-byte length
                    let n = self.take(1)?[0] as usize;
                    let s = self.string(n)?;
                    self.push_leaf(Value::Str(s), n)?;
                }
                0x8d => {
                    let n = self.len8()?; // BINUNICODE8
                    let s = self.string(n)?;
                    self.push_leaf(Value::Str(s), n)?;
                }
                b'B' => {
                    let n = u32::from_le_bytes(self.array()?) as usize; // BINBYTES
                    let b = self.take(n)?.to_vec();
                    self.push_leaf(Value::Bytes(b), n)?;
                }
                b'C' => {
                    let n = self.take(1)?[0] as usize; // SHORT_BINBYTES
                    let b = self.take(n)?.to_vec();
                    self.push_leaf(Value::Bytes(b), n)?;
                }
                b't' => {
                    let items = self.pop_mark()?; // TUPLE
                    self.push_container(items, Value::Tuple)?;
                }
                0x85..=0x87 => {
                    // TUPLE1, TUPLE2, TUPLE3
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(self.malformed("stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push_container(items, Value::Tuple)?;
                }
                b'c' => {
                    // GLOBAL "module\nname\n"
                    let module = self.line()?;
                    let name = self.line()?;
                    let heap = module.len() + name.len();
                    self.push_leaf(Value::Global(module, name), heap)?;
                }
                0x93 => {
                    // STACK_GLOBAL (protocol 4): name on top, module below
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    let heap = module.len() + name.len();
                    self.push_leaf(Value::Global(module, name), heap)?;
                }
                b'Q' => {
                    let pid = self.pop()?.value; // BINPERSID
                    let storage = self.persistent_load(pid)?;
                    let heap = storage.kind.len() + storage.key.len();
                    self.push_leaf(Value::Storage(storage), heap)?;
                }
                b'R' | 0x81 => {
                    // REDUCE: callable(*args); NEWOBJ: cls.__new__(cls, *args) — same for us
                    let args = self.pop()?;
                    let callable = self.pop()?.value;
                    let v = self.call(callable, args)?;
                    self.push(v)?;
                }
                b'b' => {
                    // BUILD: __setstate__ on the object below. State dicts only BUILD an OrderedDict's
                    // `_metadata` attribute (module versions), which we do not need.
                    self.pop()?;
                    if self.stack.is_empty() {
                        return Err(self.malformed("BUILD with no object"));
                    }
                }
                b's' => {
                    let v = self.pop()?; // SETITEM
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?; // SETITEMS
                    if items.len() % 2 != 0 {
                        return Err(self.malformed("SETITEMS with an odd number of items"));
                    }
                    self.set_items(items)?;
                }
                b'a' => {
                    let v = self.pop()?; // APPEND
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?; // APPENDS
                    self.append(items)?;
                }
                b'q' => {
                    let i = self.take(1)?[0] as u64; // BINPUT
                    self.memo_put(i)?;
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.array()?) as u64; // LONG_BINPUT
                    self.memo_put(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u64; // MEMOIZE (protocol 4): next free index
                    self.memo_put(i)?;
                }
                b'h' => {
                    let i = self.take(1)?[0] as u64; // BINGET
                    self.memo_get(i)?;
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.array()?) as u64; // LONG_BINGET
                    self.memo_get(i)?;
                }
                b'0' => drop(self.pop()?),      // POP
                b'1' => drop(self.pop_mark()?), // POP_MARK
                b'2' => {
                    // DUP: a copy, paid for before it is made
                    let size = self.stack.last().ok_or_else(|| self.malformed("DUP on an empty stack"))?.size;
                    self.charge(size)?;
                    let top = self.stack.last().expect("checked above").clone();
                    self.push(top)?;
                }
                b'.' => return Ok(self.pop()?.value), // STOP
                _ => return Err(PickleError::Unsupported { opcode: op, offset: self.op_at }),
            }
        }
    }

    /// The calls a state dict makes; everything else becomes an opaque object.
    fn call(&mut self, callable: Value, args: Slot) -> Result<Slot, PickleError> {
        let Value::Global(module, name) = callable else {
            return Err(self.malformed("REDUCE on something that is not a global"));
        };
        let (args_size, args_depth) = (args.size, args.depth);
        let Value::Tuple(args) = args.value else {
            return Err(self.malformed("REDUCE arguments are not a tuple"));
        };
        match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") | ("builtins", "dict") | ("__builtin__", "dict") if args.is_empty() => {
                self.new_leaf(Value::Dict(Vec::new()), 0)
            }
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]);
            // _rebuild_tensor is the pre-1.0 spelling with the first four only.
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") if args.len() >= 4 => {
                let Value::Storage(storage) = &args[0] else {
                    return Err(self.malformed("tensor storage is not a persistent storage"));
                };
                let t = TensorRef {
                    storage: storage.clone(),
                    offset: self.usize(&args[1])?,
                    shape: self.usizes(&args[2])?,
                    stride: self.usizes(&args[3])?,
                };
                let heap = t.storage.kind.len() + t.storage.key.len() + 8 * (t.shape.len() + t.stride.len());
                self.new_leaf(Value::Tensor(t), heap)
            }
            // An nn.Parameter pickled directly wraps its data tensor.
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") if !args.is_empty() => {
                // Moved out of the arguments, not copied: nothing new to charge (their size and
                // depth bound its own).
                let data = args.into_iter().next().expect("not empty");
                Ok(Slot { value: data, size: args_size, depth: args_depth })
            }
            _ => {
                let heap = module.len() + 1 + name.len();
                self.new_leaf(Value::Object(format!("{module}.{name}")), heap)
            }
        }
    }

    /// `('storage', torch.FloatStorage, '0', 'cpu', numel)` -> a storage reference.
    fn persistent_load(&self, pid: Value) -> Result<StorageRef, PickleError> {
        match pid {
            Value::Tuple(t) if t.len() >= 5 && t[0] == Value::Str("storage".into()) => {
                let (Value::Global(_, kind), Value::Str(key)) = (&t[1], &t[2]) else {
                    return Err(self.malformed("persistent id is not ('storage', type, key, location, numel)"));
                };
                Ok(StorageRef { kind: kind.clone(), key: key.clone(), numel: self.usize(&t[4])? })
            }
            _ => Err(self.malformed("persistent id is not a ('storage', ...) tuple")),
        }
    }

    fn malformed(&self, detail: &str) -> PickleError {
        PickleError::Malformed { offset: self.op_at, detail: detail.to_string() }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.malformed("pickle ends inside an opcode"));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    fn len8(&mut self) -> Result<usize, PickleError> {
        let n = u64::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| self.malformed("length does not fit in memory"))
    }

    fn long(&mut self, n: usize) -> Result<i64, PickleError> {
        if n > 8 {
            return Err(self.malformed("integer wider than 64 bits"));
        }
        let b = self.take(n)?;
        let mut v: i64 = 0;
        for (i, &byte) in b.iter().enumerate() {
            v |= (byte as i64) << (8 * i);
        }
        // sign-extend from the top bit of the last byte
        if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * n);
        }
        Ok(v)
    }

    fn string(&mut self, n: usize) -> Result<String, PickleError> {
        let b = self.take(n)?.to_vec();
        String::from_utf8(b).map_err(|_| self.malformed("string is not UTF-8"))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.malformed("GLOBAL without a newline"))?;
        let s = self.string(n)?;
        self.pos += 1;
        Ok(s)
    }

    /// Pays for `bytes` of new values, or refuses once the input's budget is spent.
    fn charge(&mut self, bytes: usize) -> Result<(), PickleError> {
        let spent = self.spent.saturating_add(bytes);
        if spent > self.budget {
            return Err(self.malformed(&format!(
                "the pickle builds more than {} bytes of values from its {} bytes (copies of copies: a pickle bomb?)",
                self.budget,
                self.bytes.len()
            )));
        }
        self.spent = spent;
        Ok(())
    }

    fn new_leaf(&mut self, value: Value, heap: usize) -> Result<Slot, PickleError> {
        let slot = Slot::leaf(value, heap);
        self.charge(slot.size)?;
        Ok(slot)
    }

    fn push(&mut self, slot: Slot) -> Result<(), PickleError> {
        if slot.depth > MAX_DEPTH {
            return Err(self.malformed(&format!("values nest deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(slot);
        Ok(())
    }

    fn push_leaf(&mut self, value: Value, heap: usize) -> Result<(), PickleError> {
        let slot = self.new_leaf(value, heap)?;
        self.push(slot)
    }

    fn push_container(&mut self, items: Vec<Slot>, make: fn(Vec<Value>) -> Value) -> Result<(), PickleError> {
        self.charge(NODE)?; // the items move in; only the container is new
        self.push(Slot::container(items, make))
    }

    fn pop(&mut self) -> Result<Slot, PickleError> {
        // A mark sitting above the stack top means the pickle pops into a marked region.
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.malformed("pop past a MARK"));
        }
        self.stack.pop().ok_or_else(|| self.malformed("stack underflow"))
    }

    fn pop_str(&mut self) -> Result<String, PickleError> {
        match self.pop()?.value {
            Value::Str(s) => Ok(s),
            _ => Err(self.malformed("expected a string")),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Slot>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.malformed("no MARK"))?;
        if m > self.stack.len() {
            return Err(self.malformed("MARK below the stack bottom"));
        }
        Ok(self.stack.split_off(m))
    }

    /// The list or dict on top of the stack, its size and depth grown by the `items` it takes in.
    fn top_absorbing(&mut self, items: &[Slot], not_container: &str) -> Result<&mut Slot, PickleError> {
        let (not_container, too_deep) =
            (self.malformed(not_container), self.malformed(&format!("values nest deeper than {MAX_DEPTH} levels")));
        let top = self.stack.last_mut().ok_or(not_container)?;
        items.iter().for_each(|item| top.absorb(item));
        if top.depth > MAX_DEPTH {
            return Err(too_deep);
        }
        Ok(top)
    }

    fn set_items(&mut self, items: Vec<Slot>) -> Result<(), PickleError> {
        const NOT_DICT: &str = "SETITEM(S) on something that is not a dict";
        let err = self.malformed(NOT_DICT);
        let top = self.top_absorbing(&items, NOT_DICT)?;
        let Value::Dict(dict) = &mut top.value else { return Err(err) };
        let mut it = items.into_iter().map(|s| s.value);
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dict.push((k, v));
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Slot>) -> Result<(), PickleError> {
        const NOT_LIST: &str = "APPEND(S) on something that is not a list";
        let err = self.malformed(NOT_LIST);
        let top = self.top_absorbing(&items, NOT_LIST)?;
        let Value::List(list) = &mut top.value else { return Err(err) };
        list.extend(items.into_iter().map(|s| s.value));
        Ok(())
    }

    fn memo_put(&mut self, i: u64) -> Result<(), PickleError> {
        let top = self.stack.last().ok_or_else(|| self.malformed("memoise on an empty stack"))?;
        let size = top.size;
        self.charge(size)?;
        let copy = self.stack.last().expect("checked above").clone();
        self.memo.insert(i, copy);
        Ok(())
    }

    fn memo_get(&mut self, i: u64) -> Result<(), PickleError> {
        let size = self.memo.get(&i).ok_or_else(|| self.malformed(&format!("memo {i} is empty")))?.size;
        self.charge(size)?;
        let copy = self.memo[&i].clone();
        self.push(copy)
    }

    fn usize(&self, v: &Value) -> Result<usize, PickleError> {
        match v {
            Value::Int(i) if *i >= 0 => Ok(*i as usize),
            _ => Err(self.malformed("expected a non-negative integer")),
        }
    }

    fn usizes(&self, v: &Value) -> Result<Vec<usize>, PickleError> {
        match v {
            Value::Tuple(items) | Value::List(items) => items.iter().map(|x| self.usize(x)).collect(),
            _ => Err(self.malformed("expected a tuple of integers")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine after running `bytes`: its result, and the bytes of values it spent.
    fn run(bytes: &[u8]) -> (Result<Value, PickleError>, usize) {
        let mut m = Machine::new(bytes);
        let r = m.run();
        (r, m.spent)
    }

    fn detail(r: Result<Value, PickleError>) -> String {
        match r {
            Err(PickleError::Malformed { detail, .. }) => detail,
            other => panic!("expected a malformed pickle, got {other:?}"),
        }
    }

    /// PROTO 2, one int, then `doublings` x (DUP, TUPLE2): a value of 2^doublings leaves.
    pub(crate) fn bomb(doublings: usize) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'K', 1];
        for _ in 0..doublings {
            p.extend([b'2', 0x86]);
        }
        p.push(b'.');
        p
    }

    #[test]
    fn the_state_dicts_torch_writes_spend_well_inside_the_budget() {
        for f in ["tiny_bert.pkl", "legacy_names.pkl"] {
            let bytes = std::fs::read(format!("tools/fuzz/seeds/pickle/{f}")).unwrap();
            let (r, spent) = run(&bytes);
            assert!(matches!(r, Ok(Value::Dict(_))), "{f}");
            let per_byte = spent as f64 / bytes.len() as f64;
            eprintln!(
                "{f}: {} bytes of pickle (values of {NODE} bytes), {spent} bytes of values ({per_byte:.1} per byte)",
                bytes.len()
            );
            assert!(per_byte < BUDGET_PER_BYTE as f64 / 4.0, "{f}: {per_byte:.1} bytes of values per byte");
        }
    }

    #[test]
    fn a_doubling_bomb_is_refused_within_its_budget() {
        let p = bomb(27);
        assert!(p.len() < 60);
        let t = std::time::Instant::now();
        let (r, spent) = run(&p);
        assert!(detail(r).contains("pickle bomb"));
        assert!(spent <= BUDGET_FLOOR + p.len() * BUDGET_PER_BYTE, "spent {spent}");
        assert!(t.elapsed().as_secs_f64() < 1.0, "{:?}", t.elapsed());
        // A small tree of copies is fine.
        assert!(run(&bomb(8)).0.is_ok());
    }

    #[test]
    fn copies_through_the_memo_are_paid_for() {
        // A list grown one int at a time, each version kept under a new memo index: n² values.
        let mut p = vec![0x80, 2, b']'];
        for i in 0..20_000u32 {
            p.extend([b'K', 0, b'a', b'r']);
            p.extend(i.to_le_bytes());
        }
        p.push(b'.');
        assert!(detail(run(&p).0).contains("pickle bomb"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize, op: &[u8]| {
            let mut p = vec![0x80, 2, b')'];
            (0..n).for_each(|_| p.extend(op));
            p.push(b'.');
            p
        };
        assert!(run(&deep(MAX_DEPTH - 1, &[0x85])).0.is_ok());
        // TUPLE1 around the top a million times (1 byte a level).
        let d = detail(run(&deep(1_000_000, &[0x85])).0);
        assert!(d.contains(&format!("nest deeper than {MAX_DEPTH}")), "{d}");
        // Lists appended each into the one below: ] x n, then APPEND x n.
        let mut p = vec![0x80, 2, b']'];
        p.extend([b']'].repeat(100_000));
        p.extend([b'a'].repeat(100_000));
        p.push(b'.');
        let d = detail(run(&p).0);
        assert!(d.contains(&format!("nest deeper than {MAX_DEPTH}")), "{d}");
    }
}
