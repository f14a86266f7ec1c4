//! LEB128 varints and zigzag-encoded signed integers, with length-prefixed byte strings: the
//! primitives of the log's compact batch encoding ([`super::compact`]) and of the store's packed
//! values (`store::pack`).
//!
//! ```text
//! u(v)      v in 7-bit groups, least significant first, bit 7 set on every byte but the last
//!           (1..=10 bytes)
//! i(v)      u((v << 1) ^ (v >> 63))   (zigzag: small magnitudes of either sign stay short)
//! bytes(b)  u(len) ++ b
//! ```

/// Appends `v` as a varint.
pub fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
pub fn put_i(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends `b` with its length first.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Reads what the `put_*` functions wrote; every accessor fails instead of reading past the end.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    /// Reads `bytes` from offset `at`.
    pub fn new(bytes: &'a [u8], at: usize) -> Input<'a> {
        Input { bytes, at }
    }

    /// The offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    pub fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or("value ends early")?;
        self.at += 1;
        Ok(b)
    }

    /// `n` raw bytes.
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("value ends early")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub fn u(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    pub fn i(&mut self) -> Result<i64, String> {
        let z = self.u()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    pub fn i32(&mut self) -> Result<i32, String> {
        i32::try_from(self.i()?).map_err(|_| "value out of i32 range".to_string())
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.u()?).map_err(|_| "length overflow")?;
        self.raw(len)
    }

    pub fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "text is not UTF-8".to_string())
    }

    /// `Ok` when everything was read.
    pub fn end(&self) -> Result<(), String> {
        (self.at == self.bytes.len())
            .then_some(())
            .ok_or_else(|| "trailing bytes".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(u in any::<u64>(), i in any::<i64>(), b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut out = Vec::new();
            put_u(&mut out, u);
            put_i(&mut out, i);
            put_bytes(&mut out, &b);
            let mut input = Input::new(&out, 0);
            prop_assert_eq!(input.u().unwrap(), u);
            prop_assert_eq!(input.i().unwrap(), i);
            prop_assert_eq!(input.bytes().unwrap(), &b[..]);
            prop_assert!(input.end().is_ok());
            // Any cut is an error, never a panic.
            for cut in 0..out.len() {
                let mut short = Input::new(&out[..cut], 0);
                prop_assert!(short.u().and_then(|_| short.i()).and_then(|_| short.bytes().map(|_| ())).is_err());
            }
        }
    }

    #[test]
    fn sizes_and_damage() {
        let mut out = Vec::new();
        put_u(&mut out, 127);
        assert_eq!(out, [127]);
        out.clear();
        put_i(&mut out, -1);
        assert_eq!(out, [1]);
        out.clear();
        put_u(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
        let eleven = [0x80u8; 11];
        assert!(Input::new(&eleven, 0).u().is_err());
        let long = [0x05u8, 1, 2];
        assert!(Input::new(&long, 0).bytes().is_err());
        let text = [2u8, 0xff, 0xfe];
        assert!(Input::new(&text, 0).string().is_err());
        let mut input = Input::new(&[1u8, 2], 0);
        assert!(input.byte().is_ok() && input.end().is_err());
    }
}
