//! The install journal: a pack directory swapped into place but not yet registered.
//!
//! The directory swap and the store's transaction cannot be one atomic step, so an install
//! records its intent (committed) before the swap, and the transaction that registers the new
//! version deletes the record ([`Store::replace_packs`]). A record still present
//! when no process holds the pack's lock means an install died in between; the pack module
//! rolls the directory back to the version the store describes.

use std::path::PathBuf;

use rusqlite::params;

use super::{Store, StoreError};

/// An install that swapped a directory into place and has not registered it (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingSwap {
    /// The pack.
    pub pack_ref: String,
    /// The install's staging directory: after the swap, its `pack` holds the previous
    /// version (absent when there was none).
    pub staging: PathBuf,
    /// Inode of the new pack directory, which tells whether the swap happened.
    pub new_inode: u64,
}

impl Store {
    /// Record (committed) that `swap` is about to happen.
    pub(crate) fn begin_swap(&mut self, swap: &PendingSwap) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO pending_swaps (pack, staging, new_inode) VALUES (?1, ?2, ?3)",
            params![
                swap.pack_ref,
                swap.staging.to_string_lossy(),
                swap.new_inode as i64
            ],
        )?;
        Ok(())
    }

    /// Forget the swap of `pack_ref` (undone, or found not to have happened).
    pub(crate) fn end_swap(&mut self, pack_ref: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM pending_swaps WHERE pack = ?1", [pack_ref])?;
        Ok(())
    }

    /// Swaps recorded and not completed: normally none.
    pub(crate) fn pending_swaps(&self) -> Result<Vec<PendingSwap>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT pack, staging, new_inode FROM pending_swaps ORDER BY pack")?;
        let rows = statement.query_map([], |row| {
            Ok(PendingSwap {
                pack_ref: row.get(0)?,
                staging: PathBuf::from(row.get::<_, String>(1)?),
                new_inode: row.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
