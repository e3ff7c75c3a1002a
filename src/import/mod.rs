//! Bulk import: files of records (JSON Lines, CSV, FollowTheMoney) checked through the one
//! validation layer (`validate`) and written in chunks.

pub mod csv;
pub mod ftm;
pub mod read;
