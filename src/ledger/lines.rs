//! Reading JSONL input with a bound on line length: a line longer than the limit is
//! skipped to its end without ever being held in memory.

use std::io::{self, BufRead};

pub enum Line {
    /// The line's bytes, without the trailing `\n` / `\r\n`.
    Text(Vec<u8>),
    /// The line exceeded the limit; this many bytes were skipped.
    TooLong(usize),
}

impl Line {
    /// The line's bytes, or how long it was when too long.
    pub fn bytes(&self) -> Result<&[u8], usize> {
        match self {
            Line::Text(bytes) => Ok(bytes),
            Line::TooLong(len) => Err(*len),
        }
    }
}

pub struct LineReader<R> {
    inner: R,
    number: usize,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader { inner, number: 0, max }
    }

    /// The next physical line with its 1-based number, or `None` at end of input.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, Line)>> {
        let mut buf = Vec::new();
        Ok(self.next_into(&mut buf)?.map(|(n, too_long)| match too_long {
            Some(len) => (n, Line::TooLong(len)),
            None => (n, Line::Text(buf)),
        }))
    }

    /// [`LineReader::next_line`] into `buf` (cleared first, kept for the next line):
    /// the line's number, and its length when it was too long (`buf` is then empty).
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, Option<usize>)>> {
        buf.clear();
        let mut seen = 0usize;
        let mut too_long = false;
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk_len, ends) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            seen += chunk_len;
            if !too_long {
                if seen > self.max {
                    too_long = true;
                    *buf = Vec::new();
                } else {
                    buf.extend_from_slice(&avail[..chunk_len]);
                }
            }
            self.inner.consume(chunk_len + usize::from(ends));
            if ends {
                break;
            }
        }
        self.number += 1;
        // A UTF-8 byte-order mark at the start of a file (Windows editors write one).
        if self.number == 1 && buf.starts_with(b"\xEF\xBB\xBF") {
            buf.drain(..3);
        }
        if too_long {
            return Ok(Some((self.number, Some(seen))));
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(Some((self.number, None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_bounds_lines() {
        let input = format!("a\r\n{}\nbb\n\nlast", "x".repeat(100));
        let mut r = LineReader::new(io::BufReader::with_capacity(8, input.as_bytes()), 10);
        let mut got = Vec::new();
        while let Some((n, line)) = r.next_line().unwrap() {
            got.push(match line {
                Line::Text(t) => format!("{n}:{}", String::from_utf8(t).unwrap()),
                Line::TooLong(len) => format!("{n}:too long {len}"),
            });
        }
        assert_eq!(got, vec!["1:a", "2:too long 100", "3:bb", "4:", "5:last"]);
    }
}
