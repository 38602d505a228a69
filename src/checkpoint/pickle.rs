//! The subset of Python's pickle protocol (versions 2-5) that `torch.save(state_dict)` writes.
//!
//! Nothing is executed: globals are kept as names, and only the calls a state dict needs are
//! understood (`OrderedDict()`, `torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`). Any other
//! call yields an opaque `Value::Object`, which is harmless unless a tensor is expected there.
//! Tensors come out as `TensorRef`s (storage key, offset, shape, stride): the bytes are read later.
//!
//! The memo holds copies, not references. Python would let a memoised dict grow after it is stored;
//! state dicts only memoise immutable things (tensors, storages, strings) before reusing them.

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

/// Runs the pickle machine over `bytes` and returns the object STOP leaves on the stack.
pub(crate) fn unpickle(bytes: &[u8]) -> Result<Value, PickleError> {
    let mut m = Machine { bytes, pos: 0, op_at: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() };
    m.run()
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Byte offset of the opcode being executed, for error messages.
    op_at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
}

impl Machine<'_> {
    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            self.op_at = self.pos;
            let op = self.take(1)?[0];
            match op {
                0x80 => drop(self.take(1)?),                       // PROTO n
                0x95 => drop(self.take(8)?),                       // FRAME len: framing only groups opcodes
                b'(' => self.marks.push(self.stack.len()),         // MARK
                b'}' => self.stack.push(Value::Dict(Vec::new())),  // EMPTY_DICT
                b']' => self.stack.push(Value::List(Vec::new())),  // EMPTY_LIST
                b')' => self.stack.push(Value::Tuple(Vec::new())), // EMPTY_TUPLE
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),  // NEWTRUE
                0x89 => self.stack.push(Value::Bool(false)), // NEWFALSE
                b'J' => {
                    // BININT: signed 4 bytes
                    let v = i32::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.take(1)?[0]; // BININT1
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?); // BININT2
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    // LONG1: n-byte little-endian two's complement (torch uses it for large numel)
                    let n = self.take(1)?[0] as usize;
                    let v = self.long(n)?;
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?); // BINFLOAT is big-endian
                    self.stack.push(Value::Float(v));
                }
                b'X' | b'T' => {
                    // BINUNICODE / BINSTRING: 4-byte length
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s));
                }
                0x8c | b'U' => {
                    // SHORT_BINUNICODE / SHORT_BINSTRING: 1-byte length
                    let n = self.take(1)?[0] as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s));
                }
                0x8d => {
                    let n = self.len8()?; // BINUNICODE8
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s));
                }
                b'B' => {
                    let n = u32::from_le_bytes(self.array()?) as usize; // BINBYTES
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b));
                }
                b'C' => {
                    let n = self.take(1)?[0] as usize; // SHORT_BINBYTES
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b));
                }
                b't' => {
                    let items = self.pop_mark()?; // TUPLE
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    // TUPLE1, TUPLE2, TUPLE3
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(self.malformed("stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'c' => {
                    // GLOBAL "module\nname\n"
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name));
                }
                0x93 => {
                    // STACK_GLOBAL (protocol 4): name on top, module below
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    self.stack.push(Value::Global(module, name));
                }
                b'Q' => {
                    let pid = self.pop()?; // BINPERSID
                    let storage = self.persistent_load(pid)?;
                    self.stack.push(storage);
                }
                b'R' | 0x81 => {
                    // REDUCE: callable(*args); NEWOBJ: cls.__new__(cls, *args) — same for us
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.stack.push(v);
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
                    self.dict_top()?.push((k, v));
                }
                b'u' => {
                    let items = self.pop_mark()?; // SETITEMS
                    if items.len() % 2 != 0 {
                        return Err(self.malformed("SETITEMS with an odd number of items"));
                    }
                    let dict = self.dict_top()?;
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        dict.push((k, v));
                    }
                }
                b'a' => {
                    let v = self.pop()?; // APPEND
                    self.list_top()?.push(v);
                }
                b'e' => {
                    let items = self.pop_mark()?; // APPENDS
                    self.list_top()?.extend(items);
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
                    let top = self.stack.last().cloned().ok_or_else(|| self.malformed("DUP on an empty stack"))?;
                    self.stack.push(top);
                }
                b'.' => return self.pop(), // STOP
                _ => return Err(PickleError::Unsupported { opcode: op, offset: self.op_at }),
            }
        }
    }

    /// The calls a state dict makes; everything else becomes an opaque object.
    fn call(&self, callable: Value, args: Value) -> Result<Value, PickleError> {
        let Value::Global(module, name) = callable else {
            return Err(self.malformed("REDUCE on something that is not a global"));
        };
        let Value::Tuple(args) = args else {
            return Err(self.malformed("REDUCE arguments are not a tuple"));
        };
        match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") | ("builtins", "dict") | ("__builtin__", "dict") if args.is_empty() => {
                Ok(Value::Dict(Vec::new()))
            }
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]);
            // _rebuild_tensor is the pre-1.0 spelling with the first four only.
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") if args.len() >= 4 => {
                let Value::Storage(storage) = &args[0] else {
                    return Err(self.malformed("tensor storage is not a persistent storage"));
                };
                Ok(Value::Tensor(TensorRef {
                    storage: storage.clone(),
                    offset: self.usize(&args[1])?,
                    shape: self.usizes(&args[2])?,
                    stride: self.usizes(&args[3])?,
                }))
            }
            // An nn.Parameter pickled directly wraps its data tensor.
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") if !args.is_empty() => {
                Ok(args[0].clone())
            }
            _ => Ok(Value::Object(format!("{module}.{name}"))),
        }
    }

    /// `('storage', torch.FloatStorage, '0', 'cpu', numel)` -> a storage reference.
    fn persistent_load(&self, pid: Value) -> Result<Value, PickleError> {
        match pid {
            Value::Tuple(t) if t.len() >= 5 && t[0] == Value::Str("storage".into()) => {
                let (Value::Global(_, kind), Value::Str(key)) = (&t[1], &t[2]) else {
                    return Err(self.malformed("persistent id is not ('storage', type, key, location, numel)"));
                };
                Ok(Value::Storage(StorageRef { kind: kind.clone(), key: key.clone(), numel: self.usize(&t[4])? }))
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

    fn pop(&mut self) -> Result<Value, PickleError> {
        // A mark sitting above the stack top means the pickle pops into a marked region.
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.malformed("pop past a MARK"));
        }
        self.stack.pop().ok_or_else(|| self.malformed("stack underflow"))
    }

    fn pop_str(&mut self) -> Result<String, PickleError> {
        match self.pop()? {
            Value::Str(s) => Ok(s),
            _ => Err(self.malformed("expected a string")),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.malformed("no MARK"))?;
        if m > self.stack.len() {
            return Err(self.malformed("MARK below the stack bottom"));
        }
        Ok(self.stack.split_off(m))
    }

    fn dict_top(&mut self) -> Result<&mut Vec<(Value, Value)>, PickleError> {
        let err = self.malformed("SETITEM(S) on something that is not a dict");
        match self.stack.last_mut() {
            Some(Value::Dict(d)) => Ok(d),
            _ => Err(err),
        }
    }

    fn list_top(&mut self) -> Result<&mut Vec<Value>, PickleError> {
        let err = self.malformed("APPEND(S) on something that is not a list");
        match self.stack.last_mut() {
            Some(Value::List(l)) => Ok(l),
            _ => Err(err),
        }
    }

    fn memo_put(&mut self, i: u64) -> Result<(), PickleError> {
        let top = self.stack.last().cloned().ok_or_else(|| self.malformed("memoise on an empty stack"))?;
        self.memo.insert(i, top);
        Ok(())
    }

    fn memo_get(&mut self, i: u64) -> Result<(), PickleError> {
        let v = self.memo.get(&i).cloned().ok_or_else(|| self.malformed(&format!("memo {i} is empty")))?;
        self.stack.push(v);
        Ok(())
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
