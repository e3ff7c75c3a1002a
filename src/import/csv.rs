//! CSV input (see `docs/import.md`): being written.

use std::io::{self, BufRead};

use super::read::Items;

pub fn read<R: BufRead + Send + 'static>(_reader: R) -> io::Result<Items<'static>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "CSV import is not built yet"))
}
